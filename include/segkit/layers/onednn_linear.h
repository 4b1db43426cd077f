#pragma once

// A fully connected layer for CPU inference run by oneDNN's inner product, its activation
// fused. oneDNN's kernel for plain out x in weights reads them (kept in the model's type, not
// repacked: no second copy of VGG's 411 MB first layer) faster than LibTorch's linear does at
// small batches: AlexNet's three layers at batch 1 take two fifths of the time in float32 and a
// fifth in bfloat16 on the project's Xeon (bench/RESULTS.md).

#include <ATen/core/Tensor.h>

#include <memory>

#include "segkit/layers/conv_bn.h"

namespace segkit {

class OneDnnLinear {
 public:
  /// Takes the weight (out x in) and bias (out, or undefined) of a float32 CPU Linear, to compute
  /// in `dtype` (OneDnnConv::supports: float32 or bfloat16, with float32 accumulation).
  OneDnnLinear(const at::Tensor& weight, const at::Tensor& bias, at::ScalarType dtype);
  ~OneDnnLinear();
  OneDnnLinear(const OneDnnLinear&) = delete;
  OneDnnLinear& operator=(const OneDnnLinear&) = delete;

  /// activation(x W^T + b) of an N x in CPU batch of its type: N x out. Any thread may call it,
  /// several at once (each call brings its own scratch memory).
  at::Tensor operator()(const at::Tensor& x, Activation activation) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace segkit
