#include "segkit/models/model.h"

#include <ATen/ATen.h>

namespace segkit {

const char* task_name(Task task) {
  switch (task) {
    case Task::kSemantic: return "semantic";
    case Task::kClassification: return "classification";
    case Task::kInstance: return "instance";
  }
  return "?";
}

at::Tensor sum_losses(const LossMap& losses) {
  TORCH_CHECK(!losses.empty(), "the model returned no losses");
  at::Tensor total;
  for (const auto& [name, value] : losses) total = total.defined() ? total + value : value;
  return total;
}

ParameterGroups parameter_groups(const ModelImpl& model) {
  const auto heads = model.head_modules();
  ParameterGroups groups;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    const std::string& key = item.key();
    const std::string top = key.substr(0, key.find('.'));
    const bool head = std::find(heads.begin(), heads.end(), top) != heads.end();
    (head ? groups.head : groups.backbone).push_back(item.value());
  }
  return groups;
}

}  // namespace segkit
