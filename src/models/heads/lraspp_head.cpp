#include "segkit/models/heads/lraspp_head.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/sequential.h>

#include "segkit/core/errors.h"

namespace segkit {

LRASPPHeadImpl::LRASPPHeadImpl(const HeadConfig& config, const ShapeMap& shapes) : HeadImpl(config.in_features) {
  using torch::nn::Conv2d;
  using torch::nn::Conv2dOptions;
  if (in_features().size() != 2) fail("the LR-ASPP head reads two features (low, high)");
  const int64_t low_channels = input_shape(shapes, in_features()[0]).channels;
  const int64_t high_channels = input_shape(shapes, in_features()[1]).channels;
  const int64_t inter = config.channels > 0 ? config.channels : 128;
  cbr_ = ConvBn(*register_module("cbr", torch::nn::Sequential()), "0", "1", ConvSpec(high_channels, inter, 1));
  scale_ = register_module("scale", torch::nn::Sequential())
               ->register_module("1", Conv2d(Conv2dOptions(high_channels, inter, 1).bias(false)));
  low_classifier_ = register_module("low_classifier", Conv2d(Conv2dOptions(low_channels, config.num_classes, 1)));
  high_classifier_ = register_module("high_classifier", Conv2d(Conv2dOptions(inter, config.num_classes, 1)));
}

at::Tensor LRASPPHeadImpl::forward(const FeatureMap& features) {
  const at::Tensor& low = input(features, 0);
  const at::Tensor& high = input(features, 1);
  at::Tensor x = activate(cbr_(high), Activation::kReLU);
  const at::Tensor s = scale_->forward(high.mean({2, 3}, /*keepdim=*/true)).sigmoid();
  x = resize_bilinear(x * s, low.size(2), low.size(3));
  return low_classifier_->forward(low) + high_classifier_->forward(x);
}

}  // namespace segkit
