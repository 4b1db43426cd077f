#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "segkit/core/errors.h"
#include "segkit/models/zoo.h"

namespace segkit::cli {
namespace {

std::string describe(const ZooEntry& entry) {
  if (std::holds_alternative<DetectionArchitecture>(entry.architecture)) {
    return "RGB in [0, 1]; the model normalizes (ImageNet mean/std) and resizes (800, at most 1333)";
  }
  const Preprocess& p = entry.preprocess;
  std::ostringstream text;
  text << (p.resize > 0 ? "resize " + std::to_string(p.resize) : std::string("no resize"));
  if (p.crop > 0) text << ", crop " << p.crop;
  if (p.interpolation == Interpolation::kBicubic) text << " (bicubic)";
  text << (p.channels == 1 ? ", gray, mean/std 0.5" : ", RGB, ImageNet mean/std");
  return text.str();
}

std::string millions(int64_t count) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(1) << count / 1e6 << "M";
  return text.str();
}

bool has_aux(const ZooEntry& entry) {
  const auto* composed = std::get_if<ComposedArchitecture>(&entry.architecture);
  return composed != nullptr && !composed->aux.empty();
}

// The zoo by task, from the entries' data: nothing is built.
void list_zoo() {
  for (Task task : {Task::kSemantic, Task::kClassification, Task::kInstance}) {
    std::vector<const ZooEntry*> entries;
    for (const auto& name : model_zoo().names()) {
      if (model_zoo().at(name).task == task) entries.push_back(&model_zoo().at(name));
    }
    if (entries.empty()) continue;
    std::cout << task_name(task) << " (" << entries.size() << ")\n";
    std::cout << "  " << std::left << std::setw(34) << "model" << std::setw(12) << "parameters" << std::setw(9)
              << "classes" << std::setw(5) << "aux"
              << "default preprocessing\n";
    for (const ZooEntry* e : entries) {
      std::cout << "  " << std::setw(34) << e->name << std::setw(12) << millions(e->parameters) << std::setw(9)
                << e->num_classes << std::setw(5) << (has_aux(*e) ? "yes" : "no") << describe(*e) << "\n";
      std::cout << "  " << std::setw(34) << "" << e->summary << "\n";
    }
    std::cout << "\n";
  }
  std::cout << "Parameter counts at the published class count, without aux heads (U-Nets: the paper's 64 channels, "
               "depth 5). `segkit models NAME` lists a model's layers.\n";
}

// The zoo as JSON, one object per model, for scripts.
void list_zoo_json() {
  nlohmann::json models = nlohmann::json::array();
  for (const auto& name : model_zoo().names()) {
    const ZooEntry& e = model_zoo().at(name);
    nlohmann::json m{{"name", e.name},
                     {"task", task_name(e.task)},
                     {"summary", e.summary},
                     {"num_classes", e.num_classes},
                     {"parameters", e.parameters},
                     {"aux", has_aux(e)},
                     {"preprocess", nlohmann::json::parse(e.preprocess.to_json())}};
    if (const auto* composed = std::get_if<ComposedArchitecture>(&e.architecture)) {
      m["backbone"] = composed->backbone;
      m["head"] = composed->head.type;
    }
    models.push_back(m);
  }
  std::cout << models.dump(2) << "\n";
}

// One model in detail: its layers (what Grad-CAM's --layer and backbone features name).
void describe_model(const std::string& name) {
  const ZooEntry& e = find_model(name);
  std::cout << e.name << ": " << e.summary << "\n"
            << "task " << task_name(e.task) << ", " << e.num_classes << " classes, " << e.parameters
            << " parameters, preprocessing: " << describe(e) << "\n";
  if (const auto* composed = std::get_if<ComposedArchitecture>(&e.architecture)) {
    const Backbone backbone = build_backbone(composed->backbone, composed->backbone_options);
    std::cout << "backbone " << composed->backbone << " (output stride " << composed->backbone_options.output_stride()
              << "); layers (channels, stride):\n";
    for (const auto& stage : backbone->stage_names()) {
      const ShapeSpec& s = backbone->output_shape().at(stage);
      std::cout << "  " << std::left << std::setw(16) << stage << s.channels << ", " << s.stride << "\n";
    }
    std::cout << "head " << composed->head.type << " as \"" << composed->head.module << "\" on";
    for (const auto& f : composed->head.config.in_features) std::cout << " " << f;
    std::cout << "\n";
    for (const auto& aux : composed->aux) std::cout << "aux head " << aux.type << " as \"" << aux.module << "\"\n";
  } else if (const auto* detection = std::get_if<DetectionArchitecture>(&e.architecture)) {
    std::cout << "backbone " << detection->backbone << ", stages";
    for (const auto& stage : detection->stages) std::cout << " " << stage;
    std::cout << " into a feature pyramid (256 channels, and a max-pooled level); region proposal network over "
              << detection->anchor_sizes.size() << " levels; box head" << (detection->masks ? ", mask head" : "")
              << "\nlayers:";
    for (const auto& layer : build_model(e)->layer_names()) std::cout << " " << layer;
    std::cout << "\n";
  } else {
    std::cout << "layers:";
    for (const auto& layer : build_model(e)->layer_names()) std::cout << " " << layer;
    std::cout << "\n";
  }
}

}  // namespace

Run add_models_command(CLI::App& app) {
  auto name = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("models", "List the models segkit can build, or one model's layers");
  cmd->add_option("name", *name, "A model to describe");
  cmd->add_flag("--json", *json,
                "List the zoo as a JSON array: name, task, summary, classes, parameters, preprocessing");
  return [name, json] {
    if (*json && !name->empty()) fail("--json lists the whole zoo; leave out the name");
    if (*json)
      list_zoo_json();
    else if (name->empty())
      list_zoo();
    else
      describe_model(*name);
  };
}

}  // namespace segkit::cli
