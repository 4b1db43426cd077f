#pragma once

// The CPU reference kernels behind segkit/ops: float and double, contiguous inputs, checked
// by their public functions (src/ops/*.cpp). A CUDA kernel would sit beside each.

#include <ATen/core/Tensor.h>

#include <tuple>

namespace segkit::ops::cpu {

at::Tensor nms_kernel(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold);

at::Tensor roi_align_forward_kernel(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                                    int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio, bool aligned);

/// The gradient with respect to the input [batch, channels, height, width].
at::Tensor roi_align_backward_kernel(const at::Tensor& grad_output, const at::Tensor& rois, double spatial_scale,
                                     int64_t sampling_ratio, bool aligned, at::IntArrayRef input_sizes);

/// The pooled output and, for backward, the flat index of each bin's maximum in its input
/// plane (-1 for an empty bin).
std::tuple<at::Tensor, at::Tensor> roi_pool_forward_kernel(const at::Tensor& input, const at::Tensor& rois,
                                                           double spatial_scale, int64_t pooled_height,
                                                           int64_t pooled_width);

at::Tensor roi_pool_backward_kernel(const at::Tensor& grad_output, const at::Tensor& rois, const at::Tensor& argmax,
                                    at::IntArrayRef input_sizes);

}  // namespace segkit::ops::cpu
