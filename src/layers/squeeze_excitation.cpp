#include "segkit/layers/squeeze_excitation.h"

#include <ATen/ATen.h>

namespace segkit {

SqueezeExcitationImpl::SqueezeExcitationImpl(const SqueezeExcitationOptions& options_)
    : options(options_),
      fc1_(*this, "fc1", "", ConvSpec(options.channels(), options.squeeze_channels(), 1).bias(true)),
      fc2_(*this, "fc2", "", ConvSpec(options.squeeze_channels(), options.channels(), 1).bias(true)) {}

at::Tensor SqueezeExcitationImpl::forward(const at::Tensor& x) {
  const at::Tensor scale = fc2_(fc1_(x.mean({2, 3}, /*keepdim=*/true), options.activation()), options.gate());
  return x * scale;
}

}  // namespace segkit
