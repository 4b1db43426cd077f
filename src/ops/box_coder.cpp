#include "segkit/ops/box_coder.h"

#include <ATen/ATen.h>

namespace segkit::ops {
namespace {

// Widths, heights and centres of [N, 4] boxes, each [N, 1].
struct Frames {
  at::Tensor width, height, centre_x, centre_y;
  explicit Frames(const at::Tensor& boxes) {
    width = boxes.narrow(1, 2, 1) - boxes.narrow(1, 0, 1);
    height = boxes.narrow(1, 3, 1) - boxes.narrow(1, 1, 1);
    centre_x = boxes.narrow(1, 0, 1) + 0.5 * width;
    centre_y = boxes.narrow(1, 1, 1) + 0.5 * height;
  }
};

}  // namespace

BoxCoder::BoxCoder(std::array<double, 4> weights, double scale_clamp) : weights_(weights), scale_clamp_(scale_clamp) {}

at::Tensor BoxCoder::encode(const at::Tensor& boxes, const at::Tensor& references) const {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4 && references.sizes() == boxes.sizes(),
              "BoxCoder::encode: boxes and references should both be [N, 4], got ", boxes.sizes(), " and ",
              references.sizes());
  const Frames target(boxes), anchor(references);
  // The weights as tensors of the boxes' type, as torchvision multiplies them.
  const at::Tensor w = at::tensor(std::vector<double>(weights_.begin(), weights_.end()), boxes.options());
  return at::cat({w[0] * (target.centre_x - anchor.centre_x) / anchor.width,
                  w[1] * (target.centre_y - anchor.centre_y) / anchor.height,
                  w[2] * at::log(target.width / anchor.width), w[3] * at::log(target.height / anchor.height)},
                 1);
}

at::Tensor BoxCoder::decode(const at::Tensor& codes, const at::Tensor& references) const {
  TORCH_CHECK(references.dim() == 2 && references.size(1) == 4, "BoxCoder::decode: references should be [N, 4], got ",
              references.sizes());
  TORCH_CHECK(codes.dim() == 2 && codes.size(0) == references.size(0) && codes.size(1) % 4 == 0,
              "BoxCoder::decode: codes should be [", references.size(0), ", 4 * K], got ", codes.sizes());
  const Frames anchor(references.to(codes.scalar_type()));
  const at::Tensor dx = codes.slice(1, 0, codes.size(1), 4) / weights_[0];
  const at::Tensor dy = codes.slice(1, 1, codes.size(1), 4) / weights_[1];
  const at::Tensor dw = (codes.slice(1, 2, codes.size(1), 4) / weights_[2]).clamp_max(scale_clamp_);
  const at::Tensor dh = (codes.slice(1, 3, codes.size(1), 4) / weights_[3]).clamp_max(scale_clamp_);
  const at::Tensor centre_x = dx * anchor.width + anchor.centre_x;
  const at::Tensor centre_y = dy * anchor.height + anchor.centre_y;
  const at::Tensor half_width = 0.5 * (at::exp(dw) * anchor.width);
  const at::Tensor half_height = 0.5 * (at::exp(dh) * anchor.height);
  return at::stack({centre_x - half_width, centre_y - half_height, centre_x + half_width, centre_y + half_height}, 2)
      .flatten(1);
}

}  // namespace segkit::ops
