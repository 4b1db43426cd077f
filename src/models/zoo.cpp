#include "segkit/models/zoo.h"

#include "segkit/core/errors.h"
#include "segkit/models/backbones/mobilenet_v3.h"
#include "segkit/models/backbones/resnet.h"
#include "segkit/models/heads/deeplab_head.h"
#include "segkit/models/heads/fcn_head.h"
#include "segkit/models/heads/lraspp_head.h"
#include "segkit/models/segmentors/encoder_decoder.h"

namespace segkit {
namespace {

enum class HeadKind { kFCN, kDeepLabV3 };

std::shared_ptr<HeadImpl> make_head(HeadKind kind, const std::string& feature, int64_t channels, int64_t classes) {
  if (kind == HeadKind::kFCN) return FCNHead(feature, channels, classes).ptr();
  return DeepLabHead(feature, channels, classes).ptr();
}

// torchvision's _fcn_resnet / _deeplabv3_resnet: dilated layer3 and layer4 (output stride 8),
// main head on layer4, aux FCN head on layer3.
std::function<Segmentor(const ModelConfig&)> resnet_model(int64_t depth, HeadKind kind) {
  return [=](const ModelConfig& config) {
    ResNet backbone(ResNetOptions(depth)
                        .replace_stride_with_dilation({false, true, true})
                        .out_features(config.aux ? std::vector<std::string>{"layer3", "layer4"}
                                                 : std::vector<std::string>{"layer4"}));
    const auto shapes = backbone->output_shape();
    auto head = make_head(kind, "layer4", shapes.at("layer4").channels, config.num_classes);
    std::shared_ptr<HeadImpl> aux;
    if (config.aux) aux = FCNHead("layer3", shapes.at("layer3").channels, config.num_classes).ptr();
    return EncoderDecoder(backbone.ptr(), head, aux).ptr();
  };
}

// The stages torchvision's MobileNetV3 segmentation builders read: the last block
// ("high"/"out") and the one that starts the stride-8 stage ("low"/"aux").
struct MobileNetStages {
  std::string low, high;
};

MobileNetStages mobilenet_stages() {
  const auto stages = mobilenet_v3_large_stage_indices();
  return {std::to_string(stages[stages.size() - 4]), std::to_string(stages.back())};
}

Segmentor deeplabv3_mobilenet(const ModelConfig& config) {
  const auto stages = mobilenet_stages();
  std::vector<std::string> features{stages.high};
  if (config.aux) features.push_back(stages.low);
  MobileNetV3 backbone(MobileNetV3Options().dilated(true).out_features(features));
  const auto shapes = backbone->output_shape();
  auto head = DeepLabHead(stages.high, shapes.at(stages.high).channels, config.num_classes).ptr();
  std::shared_ptr<HeadImpl> aux;
  if (config.aux) aux = FCNHead(stages.low, shapes.at(stages.low).channels, config.num_classes).ptr();
  return EncoderDecoder(backbone.ptr(), head, aux).ptr();
}

Segmentor lraspp_mobilenet(const ModelConfig& config) {
  if (config.aux) fail("lraspp_mobilenet_v3_large has no aux head");
  const auto stages = mobilenet_stages();
  MobileNetV3 backbone(MobileNetV3Options().dilated(true).out_features({stages.low, stages.high}));
  const auto shapes = backbone->output_shape();
  auto head = LRASPPHead(stages.low, shapes.at(stages.low).channels, stages.high, shapes.at(stages.high).channels,
                         config.num_classes)
                  .ptr();
  return EncoderDecoder(backbone.ptr(), head).ptr();
}

std::function<Segmentor(const ModelConfig&)> unet_model(bool padding) {
  return [=](const ModelConfig& config) {
    if (config.aux) fail("U-Net has no aux head");
    UNetOptions options = config.unet;
    options.num_classes(config.num_classes).padding(padding);
    return UNet(options).ptr();
  };
}

// The U-Net architecture a checkpoint implies: input channels and base width from the
// first convolution, depth from the encoder's levels, BatchNorm from its keys, and a
// 2x2 "up" kernel for transposed convolutions (a 3x3 one follows a resize: bilinear
// unless the caller asked for nearest).
void configure_unet(const StateDict& state, ModelConfig& config) {
  int64_t depth = 0;
  bool batch_norm = false;
  for (const auto& [key, tensor] : state) {
    if (key == "encoder.0.conv1.weight" && tensor.dim() == 4) {
      config.unet.in_channels(tensor.size(1)).base_width(tensor.size(0));
    }
    if (key.rfind("encoder.", 0) == 0 && key.size() > 8) {
      const size_t dot = key.find('.', 8);
      if (dot != std::string::npos && key.substr(dot) == ".conv1.weight") {
        depth = std::max<int64_t>(depth, std::stoll(key.substr(8, dot - 8)) + 1);
      }
    }
    if (key == "encoder.0.bn1.weight") batch_norm = true;
    if (key == "up.0.weight" && tensor.dim() == 4) {
      const bool transposed = tensor.size(2) == 2;
      if (transposed) config.unet.upsampling(Upsampling::kTransposed);
      if (!transposed && config.unet.upsampling() == Upsampling::kTransposed) {
        config.unet.upsampling(Upsampling::kBilinear);
      }
    }
  }
  if (depth > 0) config.unet.depth(depth);
  config.unet.batch_norm(batch_norm);
}

ZooEntry torchvision_entry(std::string name, std::string summary, std::string classes_key, bool has_aux_head,
                           std::function<Segmentor(const ModelConfig&)> build) {
  return ZooEntry{std::move(name),        std::move(summary), Preprocess{},
                  std::move(classes_key), has_aux_head,       std::move(build)};
}

ZooEntry unet_entry(std::string name, std::string summary, bool padding) {
  return ZooEntry{std::move(name), std::move(summary),  Preprocess::gray(), "head.weight",
                  false,           unet_model(padding), configure_unet};
}

}  // namespace

const std::vector<ZooEntry>& model_zoo() {
  static const std::vector<ZooEntry> zoo = {
      torchvision_entry("fcn_resnet50", "FCN, ResNet-50 backbone (dilated, output stride 8)", "classifier.4.weight",
                        true, resnet_model(50, HeadKind::kFCN)),
      torchvision_entry("fcn_resnet101", "FCN, ResNet-101 backbone (dilated, output stride 8)", "classifier.4.weight",
                        true, resnet_model(101, HeadKind::kFCN)),
      torchvision_entry("deeplabv3_resnet50", "DeepLabV3 (ASPP), ResNet-50 backbone (dilated, output stride 8)",
                        "classifier.4.weight", true, resnet_model(50, HeadKind::kDeepLabV3)),
      torchvision_entry("deeplabv3_resnet101", "DeepLabV3 (ASPP), ResNet-101 backbone (dilated, output stride 8)",
                        "classifier.4.weight", true, resnet_model(101, HeadKind::kDeepLabV3)),
      torchvision_entry("deeplabv3_mobilenet_v3_large",
                        "DeepLabV3 (ASPP), MobileNetV3-Large backbone (dilated, output stride 16)",
                        "classifier.4.weight", true, deeplabv3_mobilenet),
      torchvision_entry("lraspp_mobilenet_v3_large",
                        "Lite R-ASPP, MobileNetV3-Large backbone (dilated, output stride 16)",
                        "classifier.low_classifier.weight", false, lraspp_mobilenet),
      unet_entry("unet", "U-Net as in the paper: unpadded convolutions, logits smaller than the input", false),
      unet_entry("unet_padded", "U-Net with padded convolutions: logits the size of the input", true),
  };
  return zoo;
}

const ZooEntry& find_model(const std::string& name) {
  std::string known;
  for (const auto& entry : model_zoo()) {
    if (entry.name == name) return entry;
    known += (known.empty() ? "" : ", ") + entry.name;
  }
  fail("unknown model \"", name, "\" (known: ", known, ")");
}

}  // namespace segkit
