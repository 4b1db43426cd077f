#include "segkit/ops/poolers.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "segkit/ops/boxes.h"
#include "segkit/ops/roi_align.h"

namespace segkit::ops {

at::Tensor LevelMapper::operator()(const at::Tensor& boxes) const {
  const at::Tensor side = at::sqrt(box_area(boxes));
  const at::Tensor eps_tensor = at::full({}, eps, side.options());
  const at::Tensor level = at::floor(at::log2(side / canonical_scale) + canonical_level + eps_tensor);
  return level.clamp(k_min, k_max).to(at::kLong) - k_min;
}

double infer_scale(int64_t feature_height, int64_t input_height) {
  // As torchvision: the ratio in float32, its log2 rounded half to even.
  const float ratio = static_cast<float>(static_cast<double>(feature_height) / static_cast<double>(input_height));
  const float exponent = std::nearbyint(std::log2(ratio));
  return std::pow(2.0, static_cast<double>(exponent));
}

at::Tensor MultiScaleRoIAlign::forward(const std::vector<at::Tensor>& features, const std::vector<at::Tensor>& boxes,
                                       const std::vector<std::pair<int64_t, int64_t>>& image_sizes) const {
  TORCH_CHECK(!features.empty(), "MultiScaleRoIAlign: no feature maps");
  TORCH_CHECK(!image_sizes.empty() && image_sizes.size() == boxes.size(), "MultiScaleRoIAlign: ", boxes.size(),
              " box tensors for ", image_sizes.size(), " images");
  int64_t input_height = 0;
  for (const auto& size : image_sizes) input_height = std::max(input_height, size.first);
  std::vector<double> scales;
  for (const at::Tensor& map : features) scales.push_back(infer_scale(map.size(-2), input_height));

  RoIAlignOptions align;
  align.pooled_height = align.pooled_width = options_.output_size;
  align.sampling_ratio = options_.sampling_ratio;
  const at::Tensor rois = boxes_to_rois(boxes);
  if (features.size() == 1) {
    align.spatial_scale = scales[0];
    return roi_align(features[0], rois, align);
  }
  LevelMapper mapper;
  mapper.k_min = static_cast<int64_t>(-std::log2(static_cast<float>(scales.front())));
  mapper.k_max = static_cast<int64_t>(-std::log2(static_cast<float>(scales.back())));
  mapper.canonical_scale = options_.canonical_scale;
  mapper.canonical_level = options_.canonical_level;
  const at::Tensor levels = mapper(rois.narrow(1, 1, 4));

  at::Tensor pooled =
      at::zeros({rois.size(0), features[0].size(1), options_.output_size, options_.output_size}, features[0].options());
  for (size_t level = 0; level < features.size(); ++level) {
    const at::Tensor members = at::where(levels.eq(static_cast<int64_t>(level)))[0];
    align.spatial_scale = scales[level];
    pooled.index_copy_(0, members, roi_align(features[level], rois.index_select(0, members), align));
  }
  return pooled;
}

}  // namespace segkit::ops
