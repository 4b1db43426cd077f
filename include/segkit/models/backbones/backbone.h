#pragma once

// A backbone turns an image batch into named feature maps and describes every map
// it can return as data (ShapeSpec: channels and stride), so that heads are built
// from output_shape(), never from a table of channel counts. Backbones are chains
// of named stages, named as torchvision names the module whose output they are
// (ResNet's "layer3", MobileNetV3's "16", DenseNet's "denseblock2").

#include <torch/nn/module.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "segkit/core/registry.h"
#include "segkit/core/shape_spec.h"

namespace segkit {

/// Named feature maps, e.g. {"layer3": ..., "layer4": ...}.
using FeatureMap = std::map<std::string, at::Tensor>;

/// Choices every backbone understands; a family's own (ResNet's groups, EfficientNet's
/// width) are fixed by the registered name (resnext50_32x4d, efficientnet_b3).
struct BackboneOptions {
  /// 32: as published. 16 or 8: the last stages' strides replaced by dilation, as
  /// torchvision's segmentation models use ResNet (8) and MobileNetV3 (16). Backbones
  /// that torchvision never dilates refuse it.
  TORCH_ARG(int64_t, output_stride) = 32;
};

class BackboneImpl : public torch::nn::Module {
 public:
  /// The features named in out_features(), computing no stage past the deepest of them.
  FeatureMap forward(const at::Tensor& x);

  /// Every feature this backbone can return.
  const ShapeMap& output_shape() const { return shapes_; }
  /// Stage names in the order they run.
  std::vector<std::string> stage_names() const;
  /// The features forward() returns (default: the last stage).
  const std::vector<std::string>& out_features() const { return out_features_; }
  /// Chooses the features forward() returns; an unknown name is an error naming the valid ones.
  void set_out_features(const std::vector<std::string>& names);
  /// The registry name it was built as ("resnet50").
  const std::string& name() const { return name_; }

 protected:
  explicit BackboneImpl(std::string name) : name_(std::move(name)) {}
  /// Appends a stage: `run` maps the previous stage's output to this one's. The modules it
  /// uses are registered by the caller under torchvision's names.
  void add_stage(const std::string& name, std::function<at::Tensor(const at::Tensor&)> run, ShapeSpec shape);

 private:
  struct Stage {
    std::string name;
    std::function<at::Tensor(const at::Tensor&)> run;
  };
  std::string name_;
  std::vector<Stage> stages_;
  ShapeMap shapes_;
  std::vector<std::string> out_features_;
  size_t stages_needed_ = 0;
};
using Backbone = std::shared_ptr<BackboneImpl>;

/// Every backbone by name: alexnet, vgg*, resnet*, resnext50_32x4d, wide_resnet50_2,
/// se_resnet50, densenet*, efficientnet_b0-b7, mobilenet_v2, mobilenet_v3_*, googlenet.
using BackboneBuilder = std::function<Backbone(const BackboneOptions&)>;
const Registry<BackboneBuilder>& backbone_registry();

/// Builds backbone `name`, returning the last stage (set_out_features() chooses others).
Backbone build_backbone(const std::string& name, const BackboneOptions& options = {});

/// torchvision's replace_stride_with_dilation for the last `stages` strided stages of a
/// backbone: which of them keep their stride for an output stride (32 / 16 / 8).
std::vector<bool> dilate_last_stages(int64_t output_stride, size_t stages, const std::string& backbone);

}  // namespace segkit
