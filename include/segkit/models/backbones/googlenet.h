#pragma once

// GoogLeNet (Inception v1, Szegedy et al. 2015) as torchvision builds it: BasicConv2d
// (convolution, BatchNorm eps 1e-3, ReLU), Inception blocks with 1x1 reductions before
// the 3x3 and "5x5" branches (torchvision's 3x3 there, kept for its weights) and a
// pooled 1x1 projection, ceil-mode max pooling. Stages: "conv1", "maxpool1", "conv2",
// "conv3", "maxpool2", "inception3a" .. "inception5b". torchvision's transform_input,
// which its ImageNet weights expect, maps ImageNet-normalized input to theirs.

#include "segkit/layers/conv_bn.h"
#include "segkit/models/backbones/backbone.h"

namespace segkit {

/// Convolution ("conv", no bias), BatchNorm ("bn", eps 1e-3), ReLU.
class BasicConv2dImpl : public torch::nn::Module, public InferenceOptimizable {
 public:
  explicit BasicConv2dImpl(const ConvSpec& spec);
  at::Tensor forward(const at::Tensor& x);
  void optimize_for_inference(const InferenceOptions& o) override { conv_bn_.fold(o); }

 private:
  ConvBn conv_bn_;
};
TORCH_MODULE(BasicConv2d);

/// googlenet.
void add_googlenet_backbones(Registry<BackboneBuilder>& registry);

}  // namespace segkit
