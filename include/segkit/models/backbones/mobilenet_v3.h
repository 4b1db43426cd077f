#pragma once

// MobileNetV3 (Howard et al. 2019), Large and Small, as torchvision builds the
// `features` of mobilenet_v3_large/small: stages "0" (stem) .. the last 1x1 block
// ("16" for Large, "12" for Small), optionally with the last stage dilated (output
// stride 16) as torchvision's segmentation models use it.

#include <torch/nn/modules/container/sequential.h>

#include "segkit/layers/conv_bn.h"
#include "segkit/layers/squeeze_excitation.h"
#include "segkit/models/backbones/backbone.h"

namespace segkit {

/// One row of the architecture table.
struct InvertedResidualConfig {
  int64_t in_channels, kernel, expanded_channels, out_channels;
  bool use_se;
  Activation activation;
  int64_t stride, dilation;
};

/// Optional 1x1 expansion, depthwise convolution, optional squeeze-and-excitation,
/// 1x1 projection ("block.0" ...), with a residual where shapes allow.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  explicit InvertedResidualImpl(const InvertedResidualConfig& config);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Sequential block_{nullptr};
  bool use_residual_;
};
TORCH_MODULE(InvertedResidual);

enum class MobileNetV3Size { kLarge, kSmall };

class MobileNetV3Impl : public BackboneImpl {
 public:
  MobileNetV3Impl(std::string name, MobileNetV3Size size, const BackboneOptions& options);
};
TORCH_MODULE(MobileNetV3);

/// torchvision's _make_divisible: v rounded to a multiple of `divisor`, never more than 10% down.
int64_t make_divisible(double v, int64_t divisor = 8);

/// mobilenet_v3_large, mobilenet_v3_small.
void add_mobilenet_v3_backbones(Registry<BackboneBuilder>& registry);

}  // namespace segkit
