#include "segkit/losses/segmentation_loss.h"

#include <ATen/ATen.h>

#include "float32_logits.h"

namespace segkit {
namespace {

at::Tensor class_weight_tensor(const LossOptions& o, int64_t classes, const at::Tensor& like) {
  if (o.class_weights.empty()) return {};
  TORCH_CHECK(static_cast<int64_t>(o.class_weights.size()) == classes, "got ", o.class_weights.size(),
              " class weights for ", classes, " classes");
  return at::tensor(o.class_weights, at::kDouble).to(like.options());
}

// Mean of per-pixel losses over the valid pixels, each scaled by its pixel weight.
at::Tensor weighted_mean(const at::Tensor& per_pixel, const at::Tensor& valid, const at::Tensor& pixel_weight) {
  at::Tensor values = per_pixel * valid;
  if (pixel_weight.defined()) values = values * pixel_weight;
  return values.sum() / valid.sum().clamp_min(1);
}

at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& valid,
                         const at::Tensor& pixel_weight, const LossOptions& o) {
  const at::Tensor class_weight = class_weight_tensor(o, logits.size(1), logits);
  if (!pixel_weight.defined()) {
    // PyTorch's own weighted mean: sum(w_y * l) / sum(w_y) over the valid pixels.
    return at::cross_entropy_loss(logits, target, class_weight, at::Reduction::Mean, o.ignore_index);
  }
  const at::Tensor per_pixel =
      at::cross_entropy_loss(logits, target, class_weight, at::Reduction::None, o.ignore_index);
  return weighted_mean(per_pixel, valid, pixel_weight);
}

at::Tensor focal(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& valid,
                 const at::Tensor& pixel_weight, const LossOptions& o) {
  const at::Tensor log_p = at::log_softmax(logits, 1).gather(1, target.unsqueeze(1)).squeeze(1);
  at::Tensor per_pixel = -(1 - log_p.exp()).pow(o.focal_gamma) * log_p;
  const at::Tensor class_weight = class_weight_tensor(o, logits.size(1), logits);
  if (class_weight.defined()) per_pixel = per_pixel * class_weight.index({target});
  return weighted_mean(per_pixel, valid, pixel_weight);
}

at::Tensor dice(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& valid) {
  const int64_t classes = logits.size(1);
  const at::Tensor v = valid.unsqueeze(1).to(logits.scalar_type());
  const at::Tensor p = at::softmax(logits, 1) * v;
  const at::Tensor g = at::one_hot(target, classes).permute({0, 3, 1, 2}).to(logits.scalar_type()) * v;
  const std::vector<int64_t> dims{0, 2, 3};
  const at::Tensor score = (2 * (p * g).sum(dims) + 1) / (p.sum(dims) + g.sum(dims) + 1);
  return 1 - score.mean();
}

}  // namespace

at::Tensor segmentation_loss(const at::Tensor& raw_logits, const at::Tensor& target, const at::Tensor& pixel_weight,
                             const LossOptions& o) {
  const at::Tensor logits = float32_logits(raw_logits);
  TORCH_CHECK(logits.dim() == 4 && target.dim() == 3 && logits.size(0) == target.size(0) &&
                  logits.size(2) == target.size(1) && logits.size(3) == target.size(2),
              "logits ", logits.sizes(), " do not match targets ", target.sizes());
  const at::Tensor valid = target.ne(o.ignore_index);
  // Ignored pixels get class 0 where a class is needed for indexing; `valid` drops them.
  const at::Tensor safe = at::where(valid, target, at::zeros_like(target));
  switch (o.kind) {
    case LossKind::kCrossEntropy: return cross_entropy(logits, target, valid, pixel_weight, o);
    case LossKind::kDice: return dice(logits, safe, valid);
    case LossKind::kFocal: return focal(logits, safe, valid, pixel_weight, o);
    case LossKind::kCrossEntropyDice:
      return cross_entropy(logits, target, valid, pixel_weight, o) + dice(logits, safe, valid);
  }
  return {};
}

}  // namespace segkit
