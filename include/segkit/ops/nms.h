#pragma once

// Non-maximum suppression, as torchvision.ops.nms and torchvision.ops.batched_nms.

#include <ATen/core/Tensor.h>

namespace segkit::ops {

/// The indices (int64) of the boxes kept, by decreasing score (equal scores in input order): going down the scores, a
/// box is dropped when its IoU with a box already kept is above `iou_threshold`. boxes [N, 4] as (x1, y1, x2, y2),
/// scores [N] of the same floating type.
at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold);

/// NMS within each category: boxes of different `idxs` [N] never suppress each other.
/// The indices kept, by decreasing score. Like torchvision, small inputs (up to 1,000 boxes)
/// shift each category's boxes apart and run one NMS; larger ones run one NMS per category.
at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs, double iou_threshold);

}  // namespace segkit::ops
