#include "segkit/losses/unet_weight_map.h"

#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "segkit/io/label_image.h"

namespace segkit {

at::Tensor unet_weight_map(const at::Tensor& mask, int64_t num_classes, int64_t ignore_index,
                           const WeightMapOptions& options) {
  TORCH_CHECK(mask.dim() == 2, "expected an H x W mask, got ", mask.sizes());
  const int64_t height = mask.size(0), width = mask.size(1);
  const at::Tensor valid = mask.ne(ignore_index);
  at::Tensor weight = at::ones({height, width}, at::kFloat);
  if (options.balance) {
    const at::Tensor labels = mask.masked_select(valid);
    const at::Tensor counts = at::bincount(labels, {}, num_classes).to(at::kDouble);
    const int64_t present = counts.gt(0).sum().item<int64_t>();
    if (present > 0) {
      // Inverse frequency, scaled so that the mean weight over valid pixels is 1.
      const at::Tensor per_class =
          at::where(counts.gt(0), labels.numel() / (present * counts.clamp_min(1)), at::zeros_like(counts));
      weight = per_class.to(at::kFloat).index({mask.clamp(0, num_classes - 1)});
    }
  }
  int64_t objects = 0;
  const at::Tensor components = connected_components(mask.gt(0).logical_and(valid), &objects);
  if (objects >= 2 && options.w0 > 0) {
    // Only pixels within `reach` of an object can have a noticeable border term.
    const double reach = options.sigma * std::sqrt(2 * std::log(options.w0 / 1e-3));
    const auto r = static_cast<int64_t>(std::ceil(reach));
    const float far = static_cast<float>(height + width);
    at::Tensor d1 = at::full({height, width}, far, at::kFloat);
    at::Tensor d2 = at::full({height, width}, far, at::kFloat);
    // Bounding boxes of every component in one pass.
    std::vector<int64_t> ymin(objects + 1, height), ymax(objects + 1, -1), xmin(objects + 1, width),
        xmax(objects + 1, -1);
    const at::Tensor labels = components.contiguous();
    const int64_t* label = labels.data_ptr<int64_t>();
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        const int64_t k = label[y * width + x];
        ymin[k] = std::min(ymin[k], y);
        ymax[k] = std::max(ymax[k], y);
        xmin[k] = std::min(xmin[k], x);
        xmax[k] = std::max(xmax[k], x);
      }
    }
    for (int64_t k = 1; k <= objects; ++k) {
      const int64_t y0 = std::max<int64_t>(0, ymin[k] - r), y1 = std::min(height, ymax[k] + r + 1);
      const int64_t x0 = std::max<int64_t>(0, xmin[k] - r), x1 = std::min(width, xmax[k] + r + 1);
      const at::Tensor window = components.slice(0, y0, y1).slice(1, x0, x1);
      const at::Tensor distance = distance_to_zero(window.ne(k));
      at::Tensor w1 = d1.slice(0, y0, y1).slice(1, x0, x1);
      at::Tensor w2 = d2.slice(0, y0, y1).slice(1, x0, x1);
      const at::Tensor nearer = distance.lt(w1);
      w2.copy_(at::where(nearer, w1, at::minimum(w2, distance)));
      w1.copy_(at::minimum(w1, distance));
    }
    const at::Tensor border = (d1 + d2).pow_(2).div_(-2 * options.sigma * options.sigma).exp_().mul_(options.w0);
    weight = weight + at::where(components.eq(0), border, at::zeros_like(border));
  }
  return at::where(valid, weight, at::zeros_like(weight));
}

}  // namespace segkit
