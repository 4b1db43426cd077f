#pragma once

// RoIAlign over a feature pyramid: each box is pooled from the level that suits its size
// (FPN, Lin et al. 2017, eq. 1): k = floor(k0 + log2(sqrt(area) / 224)), clamped to the
// pyramid's levels. As torchvision.ops.MultiScaleRoIAlign.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace segkit::ops {

/// Maps boxes to pyramid levels: level k holds features at stride 2^k.
struct LevelMapper {
  int64_t k_min = 2;
  int64_t k_max = 5;
  double canonical_scale = 224;  ///< a box of this side goes to canonical_level
  int64_t canonical_level = 4;
  double eps = 1e-6;

  /// For boxes [N, 4]: the index (0 for k_min) of each box's level, int64 [N].
  at::Tensor operator()(const at::Tensor& boxes) const;
};

/// The power of two nearest a feature map's scale relative to the (padded) input: 1/4 for a
/// stride-4 map; torchvision infers it from the heights.
double infer_scale(int64_t feature_height, int64_t input_height);

struct MultiScaleRoIAlignOptions {
  int64_t output_size = 7;
  int64_t sampling_ratio = 2;
  double canonical_scale = 224;
  int64_t canonical_level = 4;
};

class MultiScaleRoIAlign {
 public:
  explicit MultiScaleRoIAlign(MultiScaleRoIAlignOptions options = {}) : options_(options) {}

  /// `features`: the pyramid's maps [N, C, Hk, Wk] from fine to coarse; `boxes`: one [Ki, 4]
  /// tensor per image, in input pixels; `image_sizes`: each image's (height, width) before
  /// padding. Returns [sum Ki, C, output_size, output_size], images in order.
  at::Tensor forward(const std::vector<at::Tensor>& features, const std::vector<at::Tensor>& boxes,
                     const std::vector<std::pair<int64_t, int64_t>>& image_sizes) const;

  const MultiScaleRoIAlignOptions& options() const { return options_; }

 private:
  MultiScaleRoIAlignOptions options_;
};

}  // namespace segkit::ops
