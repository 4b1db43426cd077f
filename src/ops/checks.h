#pragma once

// What the ops share (internal to src/ops): the argument checks of RoIAlign and RoIPool, and
// the widening of 16-bit inputs, which the CPU kernels compute in float32.

#include <ATen/ATen.h>

namespace segkit::ops {

/// `t` in float32 if it is half or bfloat16, else `t` itself.
inline at::Tensor widen_16_bit(const at::Tensor& t) {
  const bool narrow = t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16;
  return narrow ? t.to(at::kFloat) : t;
}

/// features [N, C, H, W]; rois [K, 5] whose image indices lie in [0, N); a positive output size.
inline void check_roi_inputs(const at::Tensor& features, const at::Tensor& rois, int64_t pooled_height,
                             int64_t pooled_width, const char* op) {
  TORCH_CHECK(features.dim() == 4, op, ": features should be [N, C, H, W], got ", features.sizes());
  TORCH_CHECK(rois.dim() == 2 && rois.size(1) == 5, op, ": rois should be [K, 5] (image, x1, y1, x2, y2), got ",
              rois.sizes());
  TORCH_CHECK(pooled_height > 0 && pooled_width > 0, op, ": output size should be positive, got ", pooled_height, "x",
              pooled_width);
  if (rois.size(0) > 0) {
    TORCH_CHECK(features.size(2) > 0 && features.size(3) > 0, op, ": cannot pool from empty features ",
                features.sizes());
    const at::Tensor images = rois.select(1, 0);
    const double first = images.min().item<double>(), last = images.max().item<double>();
    TORCH_CHECK(first >= 0 && last < features.size(0), op, ": rois name images ", first, "..", last, " of ",
                features.size(0));
  }
}

}  // namespace segkit::ops
