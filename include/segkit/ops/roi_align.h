#pragma once

// RoIAlign (Mask R-CNN, He et al. 2017): each region of interest is divided into
// pooled_height x pooled_width bins, and each bin is the mean of bilinear samples on a regular
// grid inside it: no rounding of the region or of the bins. As torchvision.ops.roi_align,
// forward and backward.

#include <ATen/core/Tensor.h>

#include <vector>

namespace segkit::ops {

struct RoIAlignOptions {
  int64_t pooled_height = 7;
  int64_t pooled_width = 7;
  /// Input pixels per box unit: 1/stride of the feature map (0.25 for stride 4).
  double spatial_scale = 1.0;
  /// Samples per bin along each side; 0 or less: ceil(bin size), adaptive, as torchvision.
  int64_t sampling_ratio = -1;
  /// Shift the box by -0.5 pixel so that pixel centres sit at .5 (Detectron2's fix);
  /// false: the original Mask R-CNN, which torchvision's detection models use.
  bool aligned = false;
};

/// features [N, C, H, W]; rois [K, 5] as (image index, x1, y1, x2, y2) in box units.
/// Returns [K, C, pooled_height, pooled_width]; differentiable with respect to `features`.
at::Tensor roi_align(const at::Tensor& features, const at::Tensor& rois, const RoIAlignOptions& options);

/// The same with one [Ki, 4] box tensor per image.
at::Tensor roi_align(const at::Tensor& features, const std::vector<at::Tensor>& boxes, const RoIAlignOptions& options);

}  // namespace segkit::ops
