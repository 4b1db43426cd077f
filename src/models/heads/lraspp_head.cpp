#include "segkit/models/heads/lraspp_head.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/sequential.h>

namespace segkit {

LRASPPHeadImpl::LRASPPHeadImpl(std::string low_feature, int64_t low_channels, std::string high_feature,
                               int64_t high_channels, int64_t num_classes, int64_t inter_channels)
    : low_feature_(std::move(low_feature)), high_feature_(std::move(high_feature)) {
  using torch::nn::Conv2d;
  using torch::nn::Conv2dOptions;
  cbr_ = ConvBn(*register_module("cbr", torch::nn::Sequential()), "0", "1", ConvSpec(high_channels, inter_channels, 1));
  scale_ = register_module("scale", torch::nn::Sequential())
               ->register_module("1", Conv2d(Conv2dOptions(high_channels, inter_channels, 1).bias(false)));
  low_classifier_ = register_module("low_classifier", Conv2d(Conv2dOptions(low_channels, num_classes, 1)));
  high_classifier_ = register_module("high_classifier", Conv2d(Conv2dOptions(inter_channels, num_classes, 1)));
}

at::Tensor LRASPPHeadImpl::forward(const FeatureMap& features) {
  const at::Tensor& low = feature(features, low_feature_);
  const at::Tensor& high = feature(features, high_feature_);
  at::Tensor x = activate(cbr_(high), Activation::kReLU);
  const at::Tensor s = scale_->forward(high.mean({2, 3}, /*keepdim=*/true)).sigmoid();
  x = resize_bilinear(x * s, low.size(2), low.size(3));
  return low_classifier_->forward(low) + high_classifier_->forward(x);
}

}  // namespace segkit
