#include "segkit/models/zoo.h"

#include "segkit/core/errors.h"
#include "segkit/models/classifiers/image_classifier.h"
#include "segkit/models/segmentors/encoder_decoder.h"
#include "segkit/models/segmentors/generalized_rcnn.h"

namespace segkit {
namespace {

Head build_head_spec(const HeadSpec& spec, int64_t num_classes, const ShapeMap& shapes) {
  HeadConfig config = spec.config;
  config.num_classes = num_classes;
  return build_head(spec.type, config, shapes);
}

Model build_composed(const ZooEntry& entry, const ComposedArchitecture& a, const BuildOptions& o, int64_t num_classes) {
  const Backbone backbone = build_backbone(a.backbone, a.backbone_options);
  const ShapeMap& shapes = backbone->output_shape();
  const Head head = build_head_spec(a.head, num_classes, shapes);
  std::vector<NamedHead> aux;
  if (o.aux) {
    if (a.aux.empty()) fail(entry.name, " has no aux head");
    for (const auto& spec : a.aux) aux.push_back({spec.module, build_head_spec(spec, num_classes, shapes)});
  }
  if (entry.task == Task::kClassification) {
    return ImageClassifier(backbone, a.backbone_module, NamedHead{a.head.module, head}, aux, num_classes).ptr();
  }
  if (a.backbone_module != "backbone" || a.head.module != "classifier" || aux.size() > 1 ||
      (!aux.empty() && aux[0].module != "aux_classifier")) {
    throw std::logic_error(entry.name + ": a semantic composed model has modules backbone, classifier, aux_classifier");
  }
  return EncoderDecoder(backbone, head, aux.empty() ? nullptr : aux[0].head, num_classes).ptr();
}

Model build_detection(const DetectionArchitecture& a, int64_t num_classes) {
  BackboneWithFPN backbone(build_backbone(a.backbone), a.stages);
  set_batch_norm_eps(*backbone->body, a.batch_norm_eps);
  const std::vector<std::vector<double>> ratios(a.anchor_sizes.size(), a.aspect_ratios);
  return GeneralizedRCNN(backbone, AnchorGenerator(a.anchor_sizes, ratios), a.rpn,
                         RoIHeadsOptions(num_classes).masks(a.masks))
      .ptr();
}

}  // namespace

const Registry<ZooEntry>& model_zoo() {
  static const Registry<ZooEntry> zoo = [] {
    Registry<ZooEntry> r("model");
    add_semantic_entries(r);
    add_classification_entries(r);
    add_instance_entries(r);
    return r;
  }();
  return zoo;
}

const ZooEntry& find_model(const std::string& name) { return model_zoo().at(name); }

Model build_model(const ZooEntry& entry, const BuildOptions& o) {
  const int64_t num_classes = o.num_classes > 0 ? o.num_classes : entry.num_classes;
  if (const auto* unet = std::get_if<UNetOptions>(&entry.architecture)) {
    if (o.aux) fail(entry.name, " has no aux head");
    return UNet(UNetOptions(*unet).num_classes(num_classes)).ptr();
  }
  if (const auto* detection = std::get_if<DetectionArchitecture>(&entry.architecture)) {
    if (o.aux) fail(entry.name, " has no aux head");
    return build_detection(*detection, num_classes);
  }
  return build_composed(entry, std::get<ComposedArchitecture>(entry.architecture), o, num_classes);
}

int64_t count_parameters(const torch::nn::Module& model) {
  int64_t count = 0;
  for (const auto& p : model.parameters()) count += p.numel();
  return count;
}

}  // namespace segkit
