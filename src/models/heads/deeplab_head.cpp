#include "segkit/models/heads/deeplab_head.h"

#include <ATen/ATen.h>

namespace segkit {

DeepLabHeadImpl::DeepLabHeadImpl(const HeadConfig& config, const ShapeMap& shapes) : HeadImpl(config.in_features) {
  const int64_t channels = config.channels > 0 ? config.channels : 256;
  const int64_t in_channels = input_shape(shapes, in_features().at(0)).channels;
  aspp_ = register_module("0", ASPP(in_channels, config.atrous_rates, channels));
  conv_bn_ = ConvBn(*this, "1", "2", ConvSpec(channels, channels, 3).padding(1));
  classifier_ = register_module("4", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, config.num_classes, 1)));
}

at::Tensor DeepLabHeadImpl::forward(const FeatureMap& features) {
  at::Tensor x = aspp_->forward(input(features));
  x = activate(conv_bn_(x), Activation::kReLU);
  return classifier_->forward(x);
}

}  // namespace segkit
