#pragma once

// RoIPool (Fast R-CNN): the region is rounded to whole feature pixels and each bin, rounded
// outwards to whole pixels too, takes its maximum. Kept beside RoIAlign to show what that
// quantization costs; as torchvision.ops.roi_pool, forward and backward.

#include <ATen/core/Tensor.h>

namespace segkit::ops {

/// features [N, C, H, W]; rois [K, 5] as (image index, x1, y1, x2, y2) in box units.
/// Returns [K, C, pooled_height, pooled_width] (an empty bin is 0); differentiable with
/// respect to `features` (each bin's gradient goes to its maximum).
at::Tensor roi_pool(const at::Tensor& features, const at::Tensor& rois, int64_t pooled_height, int64_t pooled_width,
                    double spatial_scale = 1.0);

}  // namespace segkit::ops
