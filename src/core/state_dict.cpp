#include "segkit/core/state_dict.h"

#include <torch/torch.h>

#include <map>
#include <set>

#include "segkit/core/errors.h"

namespace segkit {
namespace {

// At most 8 dimensions shown: a hostile file's tensor may have 100,000.
std::string shape_text(at::IntArrayRef sizes) {
  constexpr size_t kShown = 8;
  std::string out = "[";
  for (size_t i = 0; i < sizes.size() && i < kShown; ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  if (sizes.size() > kShown) out += str_cat(", ... ", sizes.size(), " dimensions in all");
  return out + "]";
}

std::string list_some(const std::vector<std::string>& names) {
  constexpr size_t kShown = 4;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) out += (i ? ", " : "") + shorten(names[i], 300);
  if (names.size() > kShown) out += str_cat(", ... ", names.size() - kShown, " more");
  return out;
}

bool is_optional(const std::string& name) {
  static const std::string kSuffix = "num_batches_tracked";
  return name.size() >= kSuffix.size() && name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
}

}  // namespace

std::string LoadReport::summary() const {
  std::vector<std::string> parts;
  if (!missing.empty()) parts.push_back(str_cat(missing.size(), " missing (", list_some(missing), ")"));
  if (!unexpected.empty()) parts.push_back(str_cat(unexpected.size(), " unexpected (", list_some(unexpected), ")"));
  if (!mismatched.empty()) {
    parts.push_back(str_cat(mismatched.size(), " of another shape (", list_some(mismatched), ")"));
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "; " : "") + parts[i];
  return out;
}

StateDict module_state_dict(const torch::nn::Module& module) {
  StateDict state;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) state.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/true)) state.emplace_back(item.key(), item.value());
  return state;
}

LoadReport load_state_dict_into(torch::nn::Module& module, const StateDict& state, bool strict,
                                const std::string& source) {
  const StateDict own = module_state_dict(module);
  std::map<std::string, at::Tensor> targets(own.begin(), own.end());

  LoadReport report;
  std::set<std::string> seen;
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;
  for (const auto& [name, tensor] : state) {
    auto it = targets.find(name);
    if (it == targets.end()) {
      report.unexpected.push_back(name);
      continue;
    }
    seen.insert(name);
    if (it->second.sizes() != tensor.sizes()) {
      report.mismatched.push_back(
          str_cat(name, " ", shape_text(tensor.sizes()), " in the file vs ", shape_text(it->second.sizes())));
      continue;
    }
    copies.emplace_back(it->second, tensor);
  }
  for (const auto& [name, tensor] : own) {  // in the model's order, so the first names are the first layers
    if (!seen.count(name) && !is_optional(name)) report.missing.push_back(name);
  }
  if (strict && !report.empty()) {
    fail(source, ": checkpoint does not fit the model: ", report.summary(),
         " (a checkpoint of another model or class count? --non-strict loads what fits)");
  }
  torch::NoGradGuard no_grad;
  for (auto& [target, tensor] : copies) target.copy_(tensor);
  return report;
}

}  // namespace segkit
