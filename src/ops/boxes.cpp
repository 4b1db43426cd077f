#include "segkit/ops/boxes.h"

#include <ATen/ATen.h>

#include "checks.h"

namespace segkit::ops {
namespace {

void check_boxes(const at::Tensor& boxes, const char* what) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, what, " should be [N, 4] boxes (x1, y1, x2, y2), got ",
              boxes.sizes());
}

}  // namespace

at::Tensor box_area(const at::Tensor& boxes) {
  check_boxes(boxes, "box_area: boxes");
  return (boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1));
}

at::Tensor box_iou(const at::Tensor& boxes1, const at::Tensor& boxes2) {
  check_boxes(boxes1, "box_iou: boxes1");
  check_boxes(boxes2, "box_iou: boxes2");
  const at::Tensor a = widen_16_bit(boxes1);  // 16-bit boxes are compared in float32
  const at::Tensor b = boxes2.to(a.scalar_type());
  const at::Tensor top_left = at::max(a.unsqueeze(1).narrow(2, 0, 2), b.narrow(1, 0, 2));
  const at::Tensor bottom_right = at::min(a.unsqueeze(1).narrow(2, 2, 2), b.narrow(1, 2, 2));
  const at::Tensor size = (bottom_right - top_left).clamp_min(0);
  const at::Tensor intersection = size.select(2, 0) * size.select(2, 1);
  const at::Tensor area_union = box_area(a).unsqueeze(1) + box_area(b) - intersection;
  return intersection / area_union;
}

at::Tensor clip_boxes_to_image(const at::Tensor& boxes, int64_t height, int64_t width) {
  TORCH_CHECK(boxes.dim() >= 1 && boxes.size(-1) == 4, "clip_boxes_to_image: boxes should end in 4 coordinates, got ",
              boxes.sizes());
  const at::Tensor x = boxes.slice(-1, 0, 4, 2).clamp(0, width);
  const at::Tensor y = boxes.slice(-1, 1, 4, 2).clamp(0, height);
  return at::stack({x, y}, boxes.dim()).reshape(boxes.sizes());
}

at::Tensor remove_small_boxes(const at::Tensor& boxes, double min_size) {
  check_boxes(boxes, "remove_small_boxes: boxes");
  const at::Tensor widths = boxes.select(1, 2) - boxes.select(1, 0);
  const at::Tensor heights = boxes.select(1, 3) - boxes.select(1, 1);
  return at::where(widths.ge(min_size).logical_and(heights.ge(min_size)))[0];
}

at::Tensor boxes_to_rois(const std::vector<at::Tensor>& boxes) {
  TORCH_CHECK(!boxes.empty(), "boxes_to_rois: no images");
  std::vector<at::Tensor> rows;
  rows.reserve(boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) {
    check_boxes(boxes[i], "boxes_to_rois: boxes");
    const at::Tensor image = at::full({boxes[i].size(0), 1}, static_cast<double>(i), boxes[i].options());
    rows.push_back(at::cat({image, boxes[i]}, 1));
  }
  return at::cat(rows, 0);
}

}  // namespace segkit::ops
