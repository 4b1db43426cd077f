// The semantic segmentation entries: torchvision's segmentation models (module names,
// preprocessing and published class count as torchvision's) and U-Net.

#include "segkit/models/zoo.h"

namespace segkit {
namespace {

HeadSpec head(std::string module, std::string type, std::vector<std::string> in_features) {
  HeadConfig config;
  config.in_features = std::move(in_features);
  return {std::move(module), std::move(type), config};
}

ZooEntry torchvision_entry(std::string name, std::string summary, ComposedArchitecture architecture,
                           std::string classes_key, int64_t parameters) {
  ZooEntry e;
  e.name = std::move(name);
  e.task = Task::kSemantic;
  e.summary = std::move(summary);
  e.architecture = std::move(architecture);
  e.preprocess = Preprocess{};  // short side 520, ImageNet statistics
  e.keys.classes = std::move(classes_key);
  e.num_classes = 21;  // COCO images with the 20 VOC classes and background
  e.parameters = parameters;
  return e;
}

// torchvision's _fcn_resnet / _deeplabv3_resnet: layer3 and layer4 dilated (output
// stride 8), the main head on layer4, an FCN aux head on layer3.
ComposedArchitecture on_resnet(const std::string& backbone, const std::string& head_type) {
  return {backbone,
          BackboneOptions().output_stride(8),
          "backbone",
          head("classifier", head_type, {"layer4"}),
          {head("aux_classifier", "fcn", {"layer3"})}};
}

// torchvision's MobileNetV3 segmentation builders: the last stage dilated (output stride
// 16); "high"/"out" is the last block, "low"/"aux" the one that starts the stride-8 stage.
constexpr const char* kMobileLow = "4";
constexpr const char* kMobileHigh = "16";

ZooEntry unet_entry(std::string name, std::string summary, bool padding) {
  ZooEntry e;
  e.name = std::move(name);
  e.task = Task::kSemantic;
  e.summary = std::move(summary);
  e.architecture = UNetOptions().padding(padding);  // the paper's: depth 5, 64 channels, 1 in, 2 classes
  e.preprocess = Preprocess::gray();
  e.keys.classes = "head.weight";
  e.num_classes = 2;
  e.parameters = 31030658;
  return e;
}

}  // namespace

void add_semantic_entries(Registry<ZooEntry>& zoo) {
  const auto add = [&](ZooEntry entry) {
    const std::string name = entry.name;
    zoo.add(name, std::move(entry));
  };
  add(torchvision_entry("fcn_resnet50", "FCN, ResNet-50 backbone (dilated, output stride 8)",
                        on_resnet("resnet50", "fcn"), "classifier.4.weight", 32957013));
  add(torchvision_entry("fcn_resnet101", "FCN, ResNet-101 backbone (dilated, output stride 8)",
                        on_resnet("resnet101", "fcn"), "classifier.4.weight", 51949141));
  add(torchvision_entry("deeplabv3_resnet50", "DeepLabV3 (ASPP), ResNet-50 backbone (dilated, output stride 8)",
                        on_resnet("resnet50", "deeplabv3"), "classifier.4.weight", 39638869));
  add(torchvision_entry("deeplabv3_resnet101", "DeepLabV3 (ASPP), ResNet-101 backbone (dilated, output stride 8)",
                        on_resnet("resnet101", "deeplabv3"), "classifier.4.weight", 58630997));
  add(torchvision_entry("deeplabv3_mobilenet_v3_large",
                        "DeepLabV3 (ASPP), MobileNetV3-Large backbone (dilated, output stride 16)",
                        {"mobilenet_v3_large",
                         BackboneOptions().output_stride(16),
                         "backbone",
                         head("classifier", "deeplabv3", {kMobileHigh}),
                         {head("aux_classifier", "fcn", {kMobileLow})}},
                        "classifier.4.weight", 11025477));
  add(torchvision_entry("lraspp_mobilenet_v3_large",
                        "Lite R-ASPP, MobileNetV3-Large backbone (dilated, output stride 16)",
                        {"mobilenet_v3_large",
                         BackboneOptions().output_stride(16),
                         "backbone",
                         head("classifier", "lraspp", {kMobileLow, kMobileHigh}),
                         {}},
                        "classifier.low_classifier.weight", 3221538));
  add(unet_entry("unet", "U-Net as in the paper: unpadded convolutions, logits smaller than the input", false));
  add(unet_entry("unet_padded", "U-Net with padded convolutions: logits the size of the input", true));
}

}  // namespace segkit
