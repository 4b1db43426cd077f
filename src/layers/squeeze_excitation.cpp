#include "segkit/layers/squeeze_excitation.h"

#include <ATen/ATen.h>

namespace segkit {

SqueezeExcitationImpl::SqueezeExcitationImpl(const SqueezeExcitationOptions& options_)
    : options(options_),
      fc1_(register_module(
          "fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.channels(), options.squeeze_channels(), 1)))),
      fc2_(register_module(
          "fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(options.squeeze_channels(), options.channels(), 1)))) {}

at::Tensor SqueezeExcitationImpl::forward(const at::Tensor& x) {
  at::Tensor scale = activate(fc1_->forward(x.mean({2, 3}, /*keepdim=*/true)), options.activation());
  scale = activate(fc2_->forward(scale), options.gate());
  return x * scale;
}

}  // namespace segkit
