#pragma once

#include <ATen/Tensor.h>

namespace segkit {

/// Stochastic depth (Huang et al. 2016) as torchvision's "row" mode: in training, each
/// sample's residual branch is dropped with probability p and kept ones are scaled by
/// 1 / (1 - p); outside training, or with p = 0, the input unchanged.
at::Tensor stochastic_depth(const at::Tensor& x, double p, bool training);

}  // namespace segkit
