#pragma once

// Pasting Mask R-CNN's fixed-size masks (28x28) into the image, as torchvision's
// paste_masks_in_image: each mask is padded by `padding` pixels and its box grown to match,
// the box cut to whole pixels (truncated toward zero), the mask resized bilinearly to the box's
// (x2 - x1 + 1) x (y2 - y1 + 1) pixels and copied into the image where they overlap.

#include <ATen/core/Tensor.h>

namespace segkit::ops {

/// masks [N, 1, M, M] (probabilities), boxes [N, 4] in image pixels; returns [N, 1, height, width]
/// in the masks' type (zero outside each box).
at::Tensor paste_masks_in_image(const at::Tensor& masks, const at::Tensor& boxes, int64_t height, int64_t width,
                                int64_t padding = 1);

}  // namespace segkit::ops
