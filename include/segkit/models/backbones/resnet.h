#pragma once

// ResNet-50/101/152 (bottleneck blocks) as torchvision builds them, with its
// module names, so torchvision's state dicts load key for key.

#include <torch/nn/modules/container/sequential.h>

#include <array>

#include "segkit/layers/conv_bn.h"
#include "segkit/models/backbones/backbone.h"

namespace segkit {

struct ResNetOptions {
  explicit ResNetOptions(int64_t depth) : depth_(depth) {}
  /// 50, 101 or 152.
  TORCH_ARG(int64_t, depth);
  /// Replace the stride of layer2..layer4 by dilation, as torchvision's replace_stride_with_dilation.
  using Dilations = std::array<bool, 3>;
  TORCH_ARG(Dilations, replace_stride_with_dilation) = Dilations{false, false, false};
  /// Features to return, from "stem", "layer1" .. "layer4".
  TORCH_ARG(std::vector<std::string>, out_features) = {"layer4"};
};

class BottleneckImpl : public torch::nn::Module, public InferenceOptimizable {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t in_channels, int64_t planes, int64_t stride, int64_t dilation, bool downsample);
  at::Tensor forward(const at::Tensor& x);
  void optimize_for_inference(const InferenceOptions& options) override;

 private:
  ConvBn conv_bn1_, conv_bn2_, conv_bn3_, downsample_;
  bool has_downsample_;
};
TORCH_MODULE(Bottleneck);

class ResNetImpl : public BackboneImpl, public InferenceOptimizable {
 public:
  explicit ResNetImpl(const ResNetOptions& options);
  FeatureMap forward(const at::Tensor& x) override;
  std::map<std::string, ShapeSpec> output_shape() const override { return shapes_; }
  void optimize_for_inference(const InferenceOptions& o) override { stem_.fold(o); }

  ResNetOptions options;

 private:
  ConvBn stem_;
  std::array<torch::nn::Sequential, 4> layers_;
  std::map<std::string, ShapeSpec> shapes_;
  int last_layer_ = 0;  // the deepest layer any requested feature needs
};
TORCH_MODULE(ResNet);

}  // namespace segkit
