#pragma once

// Box arithmetic as torchvision.ops does it: boxes are [N, 4] tensors of (x1, y1, x2, y2)
// in pixels, x2 >= x1 and y2 >= y1 (zero-area boxes allowed).

#include <ATen/core/Tensor.h>

#include <vector>

namespace segkit::ops {

/// (x2 - x1) * (y2 - y1) for each box: [N].
at::Tensor box_area(const at::Tensor& boxes);

/// Intersection over union of every pair: [N, M] for boxes [N, 4] and [M, 4]
/// (0/0 = NaN for two zero-area boxes, as torchvision).
at::Tensor box_iou(const at::Tensor& boxes1, const at::Tensor& boxes2);

/// The boxes clamped to an image of `height` x `width` pixels (x to [0, width], y to [0, height]).
at::Tensor clip_boxes_to_image(const at::Tensor& boxes, int64_t height, int64_t width);

/// Indices of the boxes whose width and height are both at least `min_size`.
at::Tensor remove_small_boxes(const at::Tensor& boxes, double min_size);

/// Boxes per image joined into RoIs [K, 5]: (image index, x1, y1, x2, y2), the form
/// roi_align and roi_pool take.
at::Tensor boxes_to_rois(const std::vector<at::Tensor>& boxes);

}  // namespace segkit::ops
