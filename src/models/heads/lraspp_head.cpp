#include "segkit/models/heads/lraspp_head.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/sequential.h>

#include "segkit/core/errors.h"

namespace segkit {

LRASPPHeadImpl::LRASPPHeadImpl(const HeadConfig& config, const ShapeMap& shapes) : HeadImpl(config.in_features) {
  if (in_features().size() != 2) fail("the LR-ASPP head reads two features (low, high)");
  const int64_t low_channels = input_shape(shapes, in_features()[0]).channels;
  const int64_t high_channels = input_shape(shapes, in_features()[1]).channels;
  const int64_t inter = config.channels > 0 ? config.channels : 128;
  cbr_ = ConvBn(*register_module("cbr", torch::nn::Sequential()), "0", "1", ConvSpec(high_channels, inter, 1));
  scale_ = ConvBn(*register_module("scale", torch::nn::Sequential()), "1", "", ConvSpec(high_channels, inter, 1));
  low_classifier_ = ConvBn(*this, "low_classifier", "", ConvSpec(low_channels, config.num_classes, 1).bias(true));
  high_classifier_ = ConvBn(*this, "high_classifier", "", ConvSpec(inter, config.num_classes, 1).bias(true));
}

at::Tensor LRASPPHeadImpl::forward(const FeatureMap& features) {
  const at::Tensor& low = input(features, 0);
  const at::Tensor& high = input(features, 1);
  at::Tensor x = activate(cbr_(high), Activation::kReLU);
  const at::Tensor s = scale_(high.mean({2, 3}, /*keepdim=*/true), Activation::kSigmoid);
  x = resize_bilinear(x * s, low.size(2), low.size(3));
  return low_classifier_(low) + high_classifier_(x);
}

}  // namespace segkit
