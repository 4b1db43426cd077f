#pragma once

// ResNet (He et al. 2016) as torchvision builds it, with its module names, so that
// torchvision's state dicts load key for key: BasicBlock (resnet18/34) and Bottleneck
// (resnet50/101/152, ResNeXt's grouped and Wide ResNet's wider 3x3 convolutions), and
// squeeze-and-excitation in every block as an option (SE-ResNet, Hu et al. 2018).
// Stages: "relu" (stride 2), "maxpool" (4), "layer1" .. "layer4" (4 .. 32).

#include <torch/nn/modules/container/sequential.h>

#include <array>

#include "segkit/layers/conv_bn.h"
#include "segkit/layers/squeeze_excitation.h"
#include "segkit/models/backbones/backbone.h"

namespace segkit {

enum class ResidualBlock {
  kBasic,       ///< two 3x3 convolutions (resnet18/34)
  kBottleneck,  ///< 1x1, 3x3, 1x1 with 4x expansion (resnet50 and deeper)
};

struct ResNetOptions {
  using Layers = std::array<int64_t, 4>;
  ResNetOptions(ResidualBlock block, Layers layers) : block_(block), layers_(layers) {}
  TORCH_ARG(ResidualBlock, block);
  /// Blocks per stage, layer1 .. layer4.
  TORCH_ARG(Layers, layers);
  /// ResNeXt: groups of the 3x3 convolution and channels per group (32, 4 for 50_32x4d).
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(int64_t, width_per_group) = 64;
  /// Squeeze-and-excitation after each block's last BatchNorm with this reduction
  /// (the paper's 16); 0: plain ResNet.
  TORCH_ARG(int64_t, se_reduction) = 0;
  /// 8 or 16: layer4 (and layer3) dilated instead of strided (Bottleneck only, as torchvision).
  TORCH_ARG(int64_t, output_stride) = 32;
};

/// What a residual block needs to know of its place in the network.
struct ResidualBlockSpec {
  int64_t in_channels, planes, stride, dilation;
  bool downsample;
};

/// conv1/bn1, conv2/bn2 (3x3 each), optional se, downsample ("0" conv, "1" BatchNorm).
class BasicBlockImpl : public torch::nn::Module, public InferenceOptimizable {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlockImpl(const ResidualBlockSpec& spec, const ResNetOptions& options);
  at::Tensor forward(const at::Tensor& x);
  /// forward(x) for an `x` nothing will read again (a stage's block before): where the block
  /// has no downsample, its rewritten last convolution adds the identity in x's memory and
  /// leaves the result there, instead of in a copy (inference; elsewhere as forward).
  at::Tensor forward_over_input(const at::Tensor& x);
  void optimize_for_inference(const InferenceOptions& options) override;

 private:
  ConvBn conv_bn1_, conv_bn2_, downsample_;
  SqueezeExcitation se_{nullptr};
  bool has_downsample_;

  at::Tensor run(const at::Tensor& x, bool input_spare);
};
TORCH_MODULE(BasicBlock);

/// conv1/bn1 (1x1), conv2/bn2 (3x3, grouped for ResNeXt), conv3/bn3 (1x1, 4x the planes),
/// optional se, downsample.
class BottleneckImpl : public torch::nn::Module, public InferenceOptimizable {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(const ResidualBlockSpec& spec, const ResNetOptions& options);
  at::Tensor forward(const at::Tensor& x);
  /// As BasicBlockImpl::forward_over_input.
  at::Tensor forward_over_input(const at::Tensor& x);
  void optimize_for_inference(const InferenceOptions& options) override;

 private:
  ConvBn conv_bn1_, conv_bn2_, conv_bn3_, downsample_;
  SqueezeExcitation se_{nullptr};
  bool has_downsample_;

  at::Tensor run(const at::Tensor& x, bool input_spare);
};
TORCH_MODULE(Bottleneck);

class ResNetImpl : public BackboneImpl, public InferenceOptimizable {
 public:
  ResNetImpl(std::string name, const ResNetOptions& options);
  void optimize_for_inference(const InferenceOptions& o) override { stem_.fold(o); }

  ResNetOptions options;

 private:
  ConvBn stem_;
};
TORCH_MODULE(ResNet);

/// resnet18/34/50/101/152, resnext50_32x4d, wide_resnet50_2, se_resnet50.
void add_resnet_backbones(Registry<BackboneBuilder>& registry);

}  // namespace segkit
