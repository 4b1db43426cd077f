#pragma once

// Augmentation for image classification, as torchvision's reference recipes do it:
// RandomResizedCrop, flips and ColorJitter per image, then mixup or CutMix across the
// batch with soft labels. Every random choice is drawn from the engine passed in.

#include <ATen/Tensor.h>

#include <array>
#include <random>

#include "segkit/data/preprocess.h"

namespace segkit {

struct ClassAugmentOptions {
  /// Output side of the random resized crop.
  int64_t size = 224;
  /// Area fraction and aspect ratio ranges of the crop (torchvision's defaults).
  double scale_min = 0.08, scale_max = 1.0;
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;
  bool hflip = true;
  bool vflip = false;
  /// ColorJitter: brightness, contrast and saturation factors in [1 - x, 1 + x], hue
  /// shift in [-x, x] (at most 0.5), applied in random order.
  double brightness = 0, contrast = 0, saturation = 0, hue = 0;
  /// Batch mixing with Beta(alpha, alpha) weights: mixup (Zhang et al. 2018), CutMix
  /// (Yun et al. 2019); with both, one of them per batch, each with probability 0.5.
  double mixup_alpha = 0, cutmix_alpha = 0;
};

/// One training image (H x W x 3 uint8) to a normalized 3 x size x size tensor.
at::Tensor augment_for_classification(const at::Tensor& image, const ClassAugmentOptions& options,
                                      const Preprocess& preprocess, std::mt19937_64& rng);

/// torchvision's RandomResizedCrop.get_params: (top, left, height, width) of the crop.
std::array<int64_t, 4> random_resized_crop_box(int64_t height, int64_t width, const ClassAugmentOptions& options,
                                               std::mt19937_64& rng);

/// ColorJitter on a 3 x H x W float image in [0, 1].
at::Tensor color_jitter(const at::Tensor& rgb, const ClassAugmentOptions& options, std::mt19937_64& rng);

/// Mixup or CutMix across a batch (N x 3 x S x S images, N class indices): each image
/// mixed with the one before it (torch.roll by one), labels returned as N x classes
/// probabilities in the proportions of the mix. Without mixing: one-hot labels.
at::Tensor mix_batch(at::Tensor& images, const at::Tensor& labels, int64_t num_classes,
                     const ClassAugmentOptions& options, std::mt19937_64& rng);

}  // namespace segkit
