#pragma once

// Squeeze-and-excitation (Hu et al. 2018): global average pooling, a 1x1 convolution
// down to squeeze_channels ("fc1"), an activation, a 1x1 convolution back ("fc2") and a
// gate that scales the input's channels. torchvision's SqueezeExcitation, with its names.

#include <torch/nn/modules/conv.h>

#include "segkit/layers/conv_bn.h"

namespace segkit {

struct SqueezeExcitationOptions {
  SqueezeExcitationOptions(int64_t channels, int64_t squeeze_channels)
      : channels_(channels), squeeze_channels_(squeeze_channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(int64_t, squeeze_channels);
  /// After fc1: ReLU (the paper, MobileNetV3) or SiLU (EfficientNet).
  TORCH_ARG(Activation, activation) = Activation::kReLU;
  /// The gate: sigmoid (the paper, EfficientNet) or hard sigmoid (MobileNetV3).
  TORCH_ARG(Activation, gate) = Activation::kSigmoid;
};

class SqueezeExcitationImpl : public torch::nn::Module, public InferenceOptimizable {
 public:
  explicit SqueezeExcitationImpl(const SqueezeExcitationOptions& options);
  at::Tensor forward(const at::Tensor& x);
  /// fc1 and fc2 rewritten as any convolution (oneDNN, weights packed once, activations fused):
  /// LibTorch's own reorders their weights on every call.
  void optimize_for_inference(const InferenceOptions& o) override {
    fc1_.fold(o);
    fc2_.fold(o);
  }

  SqueezeExcitationOptions options;

 private:
  ConvBn fc1_, fc2_;  // 1x1 convolutions with bias, no BatchNorm
};
TORCH_MODULE(SqueezeExcitation);

}  // namespace segkit
