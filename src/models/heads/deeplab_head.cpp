#include "segkit/models/heads/deeplab_head.h"

#include <ATen/ATen.h>

namespace segkit {

DeepLabHeadImpl::DeepLabHeadImpl(std::string in_feature, int64_t in_channels, int64_t num_classes,
                                 const std::vector<int64_t>& atrous_rates)
    : in_feature_(std::move(in_feature)) {
  constexpr int64_t kChannels = 256;
  aspp_ = register_module("0", ASPP(in_channels, atrous_rates, kChannels));
  conv_bn_ = ConvBn(*this, "1", "2", ConvSpec(kChannels, kChannels, 3).padding(1));
  classifier_ = register_module("4", torch::nn::Conv2d(torch::nn::Conv2dOptions(kChannels, num_classes, 1)));
}

at::Tensor DeepLabHeadImpl::forward(const FeatureMap& features) {
  at::Tensor x = aspp_->forward(feature(features, in_feature_));
  x = activate(conv_bn_(x), Activation::kReLU);
  return classifier_->forward(x);
}

}  // namespace segkit
