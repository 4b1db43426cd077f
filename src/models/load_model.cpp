#include "segkit/models/load_model.h"

#include "segkit/core/errors.h"

namespace segkit {

LoadedModel load_model(const std::string& name, const std::string& weights, std::optional<int64_t> num_classes,
                       bool strict, const UNetOptions& unet) {
  const ZooEntry& entry = find_model(name);
  const StateDict state = load_state_dict(weights);

  std::optional<int64_t> file_classes;
  bool file_has_aux = false;
  for (const auto& [key, tensor] : state) {
    if (key == entry.classes_key && tensor.dim() >= 1) file_classes = tensor.size(0);
    if (key.rfind("aux_classifier.", 0) == 0) file_has_aux = true;
  }
  if (num_classes && *num_classes < 1) fail("--num-classes must be at least 1, got ", *num_classes);
  if (num_classes && file_classes && *num_classes != *file_classes && strict) {
    fail(weights, ": checkpoint has ", *file_classes, " classes but ", *num_classes,
         " were asked for (--non-strict loads all but the classifier)");
  }
  if (!num_classes && !file_classes) {
    if (strict) fail(weights, ": checkpoint has no ", entry.classes_key, ", so it is not a ", name, " checkpoint");
    fail(weights, ": checkpoint has no ", entry.classes_key, "; give --num-classes to load it non-strictly");
  }

  ModelConfig config;
  config.num_classes = num_classes.value_or(file_classes.value_or(0));
  config.aux = file_has_aux && entry.has_aux_head;
  config.unet = unet;
  if (entry.configure) entry.configure(state, config);
  LoadedModel loaded;
  loaded.model = entry.build(config);
  loaded.num_classes = config.num_classes;
  loaded.report = load_state_dict_into(*loaded.model, state, strict, weights);
  return loaded;
}

}  // namespace segkit
