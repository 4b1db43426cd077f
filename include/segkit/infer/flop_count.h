#pragma once

// Counting a model's arithmetic: the multiply-adds of the convolutions and matrix products
// that LibTorch runs, observed as they run (so whatever the model's code does is counted).

#include <cstdint>
#include <functional>

namespace segkit {

/// What `run` computes in ATen's convolutions (transposed too) and matrix products (linear,
/// matmul, mm, addmm, bmm, baddbmm) on the calling thread, in floating-point operations: two per
/// multiply-add, as torch.utils.flop_counter and most papers count them. Element-wise work,
/// pooling, normalization and resizing are left out. An operation called inside another counted
/// one (a convolution computed by matrix products) is counted once, as the outer one.
/// Count a model's plain path: convolutions that bypass ATen (segkit's oneDNN ones, after
/// the inference rewrite) are not seen.
double count_flops(const std::function<void()>& run);

}  // namespace segkit
