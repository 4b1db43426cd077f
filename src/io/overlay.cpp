#include "segkit/io/overlay.h"

#include <ATen/ATen.h>

namespace segkit {

at::Tensor voc_palette(int64_t num_classes) {
  at::Tensor palette = at::zeros({num_classes, 3}, at::kByte);
  auto p = palette.accessor<uint8_t, 2>();
  for (int64_t k = 0; k < num_classes; ++k) {
    int64_t label = k;
    for (int shift = 7; shift >= 0 && label > 0; --shift, label >>= 3) {
      for (int c = 0; c < 3; ++c) p[k][c] |= static_cast<uint8_t>(((label >> c) & 1) << shift);
    }
  }
  return palette;
}

at::Tensor overlay(const at::Tensor& image, const at::Tensor& labels, const at::Tensor& palette, double alpha) {
  const at::Tensor index = labels.to(at::kLong).clamp(0, palette.size(0) - 1);
  const at::Tensor colours = palette.index_select(0, index.flatten()).view({labels.size(0), labels.size(1), 3});
  at::Tensor blended = image.to(at::kFloat) * (1.0 - alpha) + colours.to(at::kFloat) * alpha;
  const at::Tensor foreground = (labels != 0).unsqueeze(-1);
  return at::where(foreground, blended.round().to(at::kByte), image);
}

at::Tensor heat_overlay(const at::Tensor& image, const at::Tensor& heat, double alpha) {
  TORCH_CHECK(heat.dim() == 2 && heat.size(0) == image.size(0) && heat.size(1) == image.size(1), "heat map ",
              heat.sizes(), " does not match the image ", image.sizes());
  const at::Tensor x = heat.to(at::kFloat).clamp(0, 1) * 4;
  // The jet scale: each channel a clamped tent, blue peaking at 1/4, green at 1/2, red at 3/4.
  const at::Tensor rgb = at::stack(
      {(1.5 - (x - 3).abs()).clamp(0, 1), (1.5 - (x - 2).abs()).clamp(0, 1), (1.5 - (x - 1).abs()).clamp(0, 1)}, 2);
  const at::Tensor blended = image.to(at::kFloat) * (1.0 - alpha) + rgb * (255.0 * alpha);
  return blended.round().clamp(0, 255).to(at::kByte);
}

}  // namespace segkit
