#include "segkit/models/heads/fcn_head.h"

#include <ATen/ATen.h>

namespace segkit {

FCNHeadImpl::FCNHeadImpl(const HeadConfig& config, const ShapeMap& shapes) : HeadImpl(config.in_features) {
  const int64_t in_channels = input_shape(shapes, in_features().at(0)).channels;
  const int64_t inter_channels = config.channels > 0 ? config.channels : in_channels / 4;
  conv_bn_ = ConvBn(*this, "0", "1", ConvSpec(in_channels, inter_channels, 3).padding(1));
  classifier_ =
      register_module("4", torch::nn::Conv2d(torch::nn::Conv2dOptions(inter_channels, config.num_classes, 1)));
}

at::Tensor FCNHeadImpl::forward(const FeatureMap& features) {
  at::Tensor x = activate(conv_bn_(input(features)), Activation::kReLU);
  if (is_training()) x = at::dropout(x, /*p=*/0.1, /*train=*/true);
  return classifier_->forward(x);
}

}  // namespace segkit
