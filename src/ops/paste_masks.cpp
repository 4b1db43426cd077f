#include "segkit/ops/paste_masks.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace segkit::ops {
namespace {

// Boxes grown about their centres by `scale`, as torchvision's expand_boxes.
at::Tensor expand_boxes(const at::Tensor& boxes, double scale) {
  const at::Tensor x1 = boxes.select(1, 0), y1 = boxes.select(1, 1), x2 = boxes.select(1, 2), y2 = boxes.select(1, 3);
  const at::Tensor half_width = (x2 - x1) * 0.5 * scale, half_height = (y2 - y1) * 0.5 * scale;
  const at::Tensor centre_x = (x2 + x1) * 0.5, centre_y = (y2 + y1) * 0.5;
  return at::stack({centre_x - half_width, centre_y - half_height, centre_x + half_width, centre_y + half_height}, 1);
}

}  // namespace

at::Tensor paste_masks_in_image(const at::Tensor& masks, const at::Tensor& boxes, int64_t height, int64_t width,
                                int64_t padding) {
  TORCH_CHECK(masks.dim() == 4 && masks.size(1) == 1 && masks.size(2) == masks.size(3) && masks.size(2) > 0,
              "paste_masks_in_image: masks should be [N, 1, M, M], got ", masks.sizes());
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4 && boxes.size(0) == masks.size(0),
              "paste_masks_in_image: boxes should be [", masks.size(0), ", 4], got ", boxes.sizes());
  TORCH_CHECK(height >= 0 && width >= 0 && padding >= 0, "paste_masks_in_image: bad size ", height, "x", width,
              " or padding ", padding);
  const int64_t side = masks.size(-1);
  const double scale = static_cast<double>(side + 2 * padding) / static_cast<double>(side);
  const at::Tensor padded = at::constant_pad_nd(masks, {padding, padding, padding, padding}, 0);
  // Cut to whole pixels toward zero, as torchvision's .to(torch.int64).
  const at::Tensor cells = expand_boxes(boxes, scale).to(at::kLong).cpu();
  const auto box = cells.accessor<int64_t, 2>();
  at::Tensor pasted = at::zeros({masks.size(0), 1, height, width}, masks.options());
  for (int64_t i = 0; i < masks.size(0); ++i) {
    const int64_t x1 = box[i][0], y1 = box[i][1], x2 = box[i][2], y2 = box[i][3];
    const int64_t box_width = std::max<int64_t>(x2 - x1 + 1, 1), box_height = std::max<int64_t>(y2 - y1 + 1, 1);
    // Where the box and the image overlap, in image pixels.
    const int64_t left = std::max<int64_t>(x1, 0), right = std::min(x2 + 1, width);
    const int64_t top = std::max<int64_t>(y1, 0), bottom = std::min(y2 + 1, height);
    if (right <= left || bottom <= top) continue;
    const at::Tensor resized = at::upsample_bilinear2d(padded.narrow(0, i, 1), {box_height, box_width},
                                                       /*align_corners=*/false);
    pasted[i][0]
        .narrow(0, top, bottom - top)
        .narrow(1, left, right - left)
        .copy_(resized[0][0].narrow(0, top - y1, bottom - top).narrow(1, left - x1, right - left));
  }
  return pasted;
}

}  // namespace segkit::ops
