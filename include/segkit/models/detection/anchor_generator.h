#pragma once

// Anchors of Faster R-CNN's region proposal network, as torchvision's AnchorGenerator: per
// pyramid level, one anchor per (aspect ratio, size) centred on the origin and rounded to whole
// pixels ("cell anchors"), then repeated at every feature pixel's top-left corner in input
// pixels (no half-stride offset).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace segkit {

class AnchorGenerator {
 public:
  /// One list of sizes and one of aspect ratios (height / width) per pyramid level.
  AnchorGenerator(const std::vector<std::vector<double>>& sizes, const std::vector<std::vector<double>>& aspect_ratios);

  /// torchvision's default for a ResNet-50 FPN: sizes 32..512, one per level, ratios 0.5, 1, 2.
  static AnchorGenerator resnet_fpn();

  /// Anchors per feature pixel at each level (sizes x ratios).
  std::vector<int64_t> num_anchors_per_location() const;

  /// Cell anchors of each level, [A, 4] float32.
  const std::vector<at::Tensor>& cell_anchors() const { return cell_anchors_; }

  /// The anchors [sum over levels of Hk * Wk * A, 4] of an image batch padded to
  /// `input_size` (height, width) with feature maps of `feature_sizes` (height, width), in the
  /// order level, row, column, anchor. Strides are input_size / feature size, floored.
  at::Tensor anchors(std::pair<int64_t, int64_t> input_size,
                     const std::vector<std::pair<int64_t, int64_t>>& feature_sizes,
                     at::ScalarType dtype = at::kFloat) const;

 private:
  std::vector<at::Tensor> cell_anchors_;
};

}  // namespace segkit
