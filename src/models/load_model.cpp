#include "segkit/models/load_model.h"

#include <regex>
#include <set>

#include "segkit/core/errors.h"
#include "segkit/models/segmentors/generalized_rcnn.h"

namespace segkit {
namespace {

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

std::string backbone_prefix(const ZooEntry& entry) {
  const auto* composed = std::get_if<ComposedArchitecture>(&entry.architecture);
  if (composed == nullptr || composed->backbone_module.empty()) return "";
  return composed->backbone_module + ".";
}

bool has_aux_keys(const ZooEntry& entry, const StateDict& state) {
  const auto* composed = std::get_if<ComposedArchitecture>(&entry.architecture);
  if (composed == nullptr) return false;
  for (const auto& spec : composed->aux) {
    for (const auto& [key, tensor] : state) {
      if (starts_with(key, spec.module + ".")) return true;
    }
  }
  return false;
}

}  // namespace

StateDict apply_key_renames(const ZooEntry& entry, StateDict state) {
  for (const auto& [pattern, replacement] : entry.keys.renames) {
    const std::regex re(pattern);
    for (auto& item : state) item.first = std::regex_replace(item.first, re, replacement);
  }
  return state;
}

namespace {

std::string resolve_model_name(const std::string& requested, const std::string& weights,
                               const std::optional<CheckpointInfo>& info) {
  if (!info) {
    if (requested.empty()) {
      fail(weights, ": records no model (segkit did not write it); give --model (see `segkit models`)");
    }
    return requested;
  }
  if (!requested.empty() && requested != info->model) {
    fail("--model ", requested, " contradicts ", weights, ", a checkpoint of ", info->model,
         " (leave --model out to use the recorded one)");
  }
  return info->model;
}

}  // namespace

std::string resolve_model_name(const std::string& requested, const std::string& weights) {
  return resolve_model_name(requested, weights, read_checkpoint_info(weights));
}

LoadedModel load_model(const std::string& requested, const std::string& weights, const LoadOptions& o) {
  std::optional<CheckpointInfo> info = read_checkpoint_info(weights);
  const std::string name = resolve_model_name(requested, weights, info);
  const ZooEntry& entry = find_model(name);
  const StateDict state = apply_key_renames(entry, load_state_dict(weights));

  std::optional<int64_t> file_classes;
  for (const auto& [key, tensor] : state) {
    if (key == entry.keys.classes && tensor.dim() >= 1) file_classes = tensor.size(0);
  }
  if (o.num_classes && *o.num_classes < 1) fail("--num-classes must be at least 1, got ", *o.num_classes);
  if (o.num_classes && file_classes && *o.num_classes != *file_classes && o.strict) {
    fail(weights, ": checkpoint has ", *file_classes, " classes but ", *o.num_classes,
         " were asked for (--non-strict loads all but the classifier)");
  }
  if (!o.num_classes && !file_classes) {
    if (o.strict) fail(weights, ": checkpoint has no ", entry.keys.classes, ", so it is not a ", name, " checkpoint");
    fail(weights, ": checkpoint has no ", entry.keys.classes, "; give --num-classes to load it non-strictly");
  }

  ZooEntry configured = entry;
  if (auto* unet = std::get_if<UNetOptions>(&configured.architecture)) {
    if (info && info->unet) {
      *unet = *info->unet;
      if (o.unet_upsampling) unet->upsampling(*o.unet_upsampling);
    } else {
      *unet = unet_options_from_checkpoint(
          state, UNetOptions(*unet).upsampling(o.unet_upsampling.value_or(Upsampling::kBilinear)));
    }
  }
  LoadedModel loaded;
  loaded.preprocess = info && info->preprocess ? *info->preprocess : entry.preprocess;
  loaded.info = std::move(info);
  loaded.entry = &entry;
  loaded.num_classes = o.num_classes.value_or(file_classes.value_or(0));
  loaded.model = build_model(configured, {loaded.num_classes, has_aux_keys(entry, state)});
  if (o.batch_norm_eps) {
    if (entry.task != Task::kInstance) fail("a BatchNorm epsilon can be chosen for detection models only, not ", name);
    if (!(*o.batch_norm_eps >= 0.0)) fail("the BatchNorm epsilon must be at least 0, got ", *o.batch_norm_eps);
    set_batch_norm_eps(*loaded.model, *o.batch_norm_eps);
  }
  loaded.report = load_state_dict_into(*loaded.model, state, o.strict, weights);
  return loaded;
}

StateDict backbone_state(const StateDict& checkpoint, const torch::nn::Module& module, const std::string& prefix,
                         const std::vector<std::string>& head_modules) {
  std::set<std::string> targets;
  for (const auto& [key, tensor] : module_state_dict(module)) {
    const std::string top = key.substr(0, key.find('.'));
    if (std::find(head_modules.begin(), head_modules.end(), top) != head_modules.end()) continue;
    if (starts_with(key, prefix)) targets.insert(key.substr(prefix.size()));
  }
  // The checkpoint's own backbone prefix: whichever makes the most keys fit.
  StateDict best;
  for (const std::string source : {"backbone.", "features.", "", "module.backbone.", "module."}) {
    StateDict fitting;
    for (const auto& [key, tensor] : checkpoint) {
      if (!starts_with(key, source)) continue;
      const std::string rest = key.substr(source.size());
      if (targets.count(rest)) fitting.emplace_back(prefix + rest, tensor);
    }
    if (fitting.size() > best.size()) best = std::move(fitting);
  }
  return best;
}

int64_t load_backbone_weights(ModelImpl& model, const ZooEntry& entry, const std::string& weights) {
  const StateDict state = backbone_state(apply_key_renames(entry, load_state_dict(weights)), model,
                                         backbone_prefix(entry), model.head_modules());
  if (state.empty()) fail(weights, ": no tensor of it fits the backbone of ", entry.name);
  const LoadReport report = load_state_dict_into(model, state, /*strict=*/false, weights);
  if (!report.mismatched.empty()) {
    fail(weights, ": backbone tensors of another shape: ", report.summary(), " (a backbone of another architecture?)");
  }
  return static_cast<int64_t>(state.size());
}

}  // namespace segkit
