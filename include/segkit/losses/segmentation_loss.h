#pragma once

#include <ATen/Tensor.h>

#include <vector>

namespace segkit {

enum class LossKind {
  kCrossEntropy,      ///< with class weights, ignore index and the pixel weight map when given
  kDice,              ///< soft Dice over the classes
  kFocal,             ///< Lin et al.'s focal loss, -(1 - p_t)^gamma log p_t
  kCrossEntropyDice,  ///< their sum
};

struct LossOptions {
  LossKind kind = LossKind::kCrossEntropy;
  /// One weight per class (empty: all 1).
  std::vector<double> class_weights;
  int64_t ignore_index = 255;
  double focal_gamma = 2;
};

/// Loss of N x C x H x W logits against N x H x W class indices. `pixel_weight`
/// (N x H x W, e.g. the U-Net weight map) scales each pixel's cross-entropy or focal
/// term; the mean is then taken over the pixels that are not ignored.
at::Tensor segmentation_loss(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& pixel_weight,
                             const LossOptions& options);

}  // namespace segkit
