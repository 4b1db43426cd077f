#pragma once

#include <torch/nn/module.h>

#include "segkit/models/backbones/backbone.h"

namespace segkit {

/// Turns a backbone's named features into per-class logits (at the features' resolution).
class HeadImpl : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const FeatureMap& features) = 0;
};

/// The feature `name` from `features`; throws if the backbone did not return it.
const at::Tensor& feature(const FeatureMap& features, const std::string& name);

/// Bilinear resize with align_corners=false, as torch.nn.functional.interpolate.
at::Tensor resize_bilinear(const at::Tensor& x, int64_t height, int64_t width);

}  // namespace segkit
