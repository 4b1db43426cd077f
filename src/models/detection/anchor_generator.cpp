#include "segkit/models/detection/anchor_generator.h"

#include <ATen/ATen.h>

namespace segkit {
namespace {

// One level's anchors centred on the origin, [ratios x sizes, 4], rounded half to even as
// torchvision's float32 arithmetic does.
at::Tensor cell_anchors_of(const std::vector<double>& sizes, const std::vector<double>& ratios) {
  const at::Tensor scales = at::tensor(sizes, at::kDouble).to(at::kFloat);
  const at::Tensor height_ratios = at::sqrt(at::tensor(ratios, at::kDouble).to(at::kFloat));
  const at::Tensor width_ratios = 1 / height_ratios;
  const at::Tensor widths = (width_ratios.unsqueeze(1) * scales.unsqueeze(0)).reshape(-1);
  const at::Tensor heights = (height_ratios.unsqueeze(1) * scales.unsqueeze(0)).reshape(-1);
  return (at::stack({-widths, -heights, widths, heights}, 1) / 2).round();
}

}  // namespace

AnchorGenerator::AnchorGenerator(const std::vector<std::vector<double>>& sizes,
                                 const std::vector<std::vector<double>>& aspect_ratios) {
  TORCH_CHECK(sizes.size() == aspect_ratios.size(), "AnchorGenerator: ", sizes.size(), " levels of sizes but ",
              aspect_ratios.size(), " of aspect ratios");
  for (size_t level = 0; level < sizes.size(); ++level) {
    cell_anchors_.push_back(cell_anchors_of(sizes[level], aspect_ratios[level]));
  }
}

AnchorGenerator AnchorGenerator::resnet_fpn() {
  return AnchorGenerator({{32}, {64}, {128}, {256}, {512}}, std::vector<std::vector<double>>(5, {0.5, 1.0, 2.0}));
}

std::vector<int64_t> AnchorGenerator::num_anchors_per_location() const {
  std::vector<int64_t> counts;
  for (const at::Tensor& cell : cell_anchors_) counts.push_back(cell.size(0));
  return counts;
}

at::Tensor AnchorGenerator::anchors(std::pair<int64_t, int64_t> input_size,
                                    const std::vector<std::pair<int64_t, int64_t>>& feature_sizes,
                                    at::ScalarType dtype) const {
  TORCH_CHECK(feature_sizes.size() == cell_anchors_.size(), "AnchorGenerator: ", feature_sizes.size(),
              " feature maps for ", cell_anchors_.size(), " levels of anchors");
  std::vector<at::Tensor> levels;
  for (size_t level = 0; level < feature_sizes.size(); ++level) {
    const auto [rows, columns] = feature_sizes[level];
    TORCH_CHECK(rows > 0 && columns > 0, "AnchorGenerator: an empty feature map (", rows, "x", columns, ")");
    const int64_t stride_y = input_size.first / rows, stride_x = input_size.second / columns;
    // Each feature pixel's top-left corner in input pixels, row by row.
    const at::Tensor shift_x = at::arange(columns, at::kInt) * stride_x;
    const at::Tensor shift_y = at::arange(rows, at::kInt) * stride_y;
    const std::vector<at::Tensor> grid = at::meshgrid({shift_y, shift_x}, "ij");
    const at::Tensor x = grid[1].reshape(-1), y = grid[0].reshape(-1);
    const at::Tensor shifts = at::stack({x, y, x, y}, 1);
    levels.push_back((shifts.view({-1, 1, 4}) + cell_anchors_[level].to(dtype).view({1, -1, 4})).reshape({-1, 4}));
  }
  return at::cat(levels, 0);
}

}  // namespace segkit
