#pragma once

// The box coder of Faster R-CNN: a box relative to a reference box as
// (dx, dy, dw, dh) = (wx (x - xa) / wa, wy (y - ya) / ha, ww log(w / wa), wh log(h / ha)),
// centres and sizes, as torchvision.models.detection._utils.BoxCoder.

#include <ATen/core/Tensor.h>

#include <array>
#include <cmath>
#include <vector>

namespace segkit::ops {

class BoxCoder {
 public:
  /// `weights` (wx, wy, ww, wh): (1, 1, 1, 1) in the RPN, (10, 10, 5, 5) in the box head.
  /// `scale_clamp` bounds dw and dh before exp when decoding: log(1000 / 16), so that no box
  /// grows more than 62.5 times its reference.
  explicit BoxCoder(std::array<double, 4> weights, double scale_clamp = std::log(1000.0 / 16));

  /// The codes [N, 4] of `boxes` [N, 4] relative to `references` [N, 4].
  at::Tensor encode(const at::Tensor& boxes, const at::Tensor& references) const;

  /// Boxes [N, 4 * K] from codes [N, 4 * K] relative to references [N, 4] (K classes each).
  at::Tensor decode(const at::Tensor& codes, const at::Tensor& references) const;

  const std::array<double, 4>& weights() const { return weights_; }

 private:
  std::array<double, 4> weights_;
  double scale_clamp_;
};

}  // namespace segkit::ops
