#include "segkit/models/detection/transform.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "segkit/ops/paste_masks.h"

namespace segkit {

std::pair<int64_t, int64_t> DetectionTransform::resized_size(int64_t height, int64_t width) const {
  // As torchvision: the scale in float32, where `800.0 / side` is Python's reversed division,
  // a reciprocal times 800; then the sizes floored in double precision.
  const float shorter = static_cast<float>(std::min(height, width));
  const float longer = static_cast<float>(std::max(height, width));
  const float scale = std::min((1.0f / shorter) * static_cast<float>(options_.min_size()),
                               (1.0f / longer) * static_cast<float>(options_.max_size()));
  const double factor = static_cast<double>(scale);
  return {static_cast<int64_t>(std::floor(static_cast<double>(height) * factor)),
          static_cast<int64_t>(std::floor(static_cast<double>(width) * factor))};
}

ImageBatch DetectionTransform::operator()(const std::vector<at::Tensor>& images) const {
  TORCH_CHECK(!images.empty(), "DetectionTransform: no images");
  ImageBatch batch;
  std::vector<at::Tensor> resized;
  int64_t height = 0, width = 0;
  for (const at::Tensor& image : images) {
    TORCH_CHECK(image.dim() == 3 && image.size(0) == 3 && image.is_floating_point(),
                "DetectionTransform: images should be [3, H, W] floating point, got ", image.sizes(), " ",
                image.scalar_type());
    const at::Tensor mean =
        at::tensor(std::vector<double>(options_.mean().begin(), options_.mean().end()), image.options())
            .view({3, 1, 1});
    const at::Tensor std =
        at::tensor(std::vector<double>(options_.std().begin(), options_.std().end()), image.options()).view({3, 1, 1});
    const auto size = resized_size(image.size(1), image.size(2));
    resized.push_back(at::upsample_bilinear2d(((image - mean) / std).unsqueeze(0), {size.first, size.second},
                                              /*align_corners=*/false)[0]);
    batch.image_sizes.push_back(size);
    height = std::max(height, size.first);
    width = std::max(width, size.second);
  }
  const int64_t divisible = options_.size_divisible();
  height = (height + divisible - 1) / divisible * divisible;
  width = (width + divisible - 1) / divisible * divisible;
  batch.tensors = at::zeros({static_cast<int64_t>(images.size()), 3, height, width}, resized[0].options());
  for (size_t i = 0; i < resized.size(); ++i) {
    batch.tensors[static_cast<int64_t>(i)]
        .narrow(1, 0, resized[i].size(1))
        .narrow(2, 0, resized[i].size(2))
        .copy_(resized[i]);
  }
  return batch;
}

std::vector<Instances> DetectionTransform::postprocess(
    const std::vector<Detections>& detections, const ImageBatch& batch,
    const std::vector<std::pair<int64_t, int64_t>>& original_sizes) const {
  TORCH_CHECK(detections.size() == batch.image_sizes.size() && original_sizes.size() == detections.size(),
              "DetectionTransform::postprocess: ", detections.size(), " detection sets for ", batch.image_sizes.size(),
              " images");
  std::vector<Instances> instances;
  for (size_t i = 0; i < detections.size(); ++i) {
    const Detections& d = detections[i];
    const auto [height, width] = original_sizes[i];
    // torchvision's ratios: float32 new size over float32 old size.
    const at::Tensor ratio_y = at::full({}, static_cast<double>(height), d.boxes.options()) /
                               at::full({}, static_cast<double>(batch.image_sizes[i].first), d.boxes.options());
    const at::Tensor ratio_x = at::full({}, static_cast<double>(width), d.boxes.options()) /
                               at::full({}, static_cast<double>(batch.image_sizes[i].second), d.boxes.options());
    const at::Tensor boxes = at::stack({d.boxes.select(1, 0) * ratio_x, d.boxes.select(1, 1) * ratio_y,
                                        d.boxes.select(1, 2) * ratio_x, d.boxes.select(1, 3) * ratio_y},
                                       1);
    Instances out{boxes, d.labels, d.scores, {}};
    if (d.masks.defined()) out.masks = ops::paste_masks_in_image(d.masks, boxes, height, width).squeeze(1);
    instances.push_back(out);
  }
  return instances;
}

}  // namespace segkit
