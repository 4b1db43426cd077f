#pragma once

// MobileNetV3-Large's feature extractor as torchvision builds it (module names
// "0".."16" as in `mobilenet_v3_large().features`), optionally dilated as
// torchvision's segmentation models use it.

#include <torch/nn/modules/container/sequential.h>

#include <functional>

#include "segkit/layers/conv_bn.h"
#include "segkit/models/backbones/backbone.h"

namespace segkit {

struct MobileNetV3Options {
  /// Replace the last stride by dilation 2 (output stride 16), as torchvision's dilated=True.
  TORCH_ARG(bool, dilated) = false;
  /// Features to return: the index of a block in `features` ("4", "16", ...).
  TORCH_ARG(std::vector<std::string>, out_features) = {"16"};
};

/// One row of the architecture table.
struct InvertedResidualConfig {
  int64_t in_channels, kernel, expanded_channels, out_channels;
  bool use_se;
  Activation activation;
  int64_t stride, dilation;
};

/// Squeeze-and-excitation with hard-sigmoid gating: fc1, ReLU, fc2, hardsigmoid.
class SqueezeExcitationImpl : public torch::nn::Module {
 public:
  SqueezeExcitationImpl(int64_t channels, int64_t squeeze_channels);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Conv2d fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

class InvertedResidualImpl : public torch::nn::Module {
 public:
  explicit InvertedResidualImpl(const InvertedResidualConfig& config);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Sequential block_{nullptr};
  bool use_residual_;
};
TORCH_MODULE(InvertedResidual);

/// Indices of the blocks designed to reduce resolution, plus the first and last
/// ([0, 2, 4, 7, 13, 16]): where torchvision's segmentation builders take features.
std::vector<int> mobilenet_v3_large_stage_indices();

class MobileNetV3Impl : public BackboneImpl {
 public:
  explicit MobileNetV3Impl(const MobileNetV3Options& options);
  FeatureMap forward(const at::Tensor& x) override;
  std::map<std::string, ShapeSpec> output_shape() const override { return shapes_; }

  MobileNetV3Options options;

 private:
  std::vector<std::function<at::Tensor(const at::Tensor&)>> forwards_;  // blocks "0".."16"
  std::map<std::string, ShapeSpec> shapes_;
  int last_block_ = 0;
};
TORCH_MODULE(MobileNetV3);

}  // namespace segkit
