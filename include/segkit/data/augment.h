#pragma once

// Joint image + mask augmentation for training. Every geometric transform (crop,
// flips, 90-degree turns, rotation, scale, shear, elastic deformation) is composed
// into one sampling grid and applied once, with mirrored borders as in the U-Net
// paper: bilinear for the image and the weight map, nearest for the mask.

#include <ATen/Tensor.h>

#include <random>

#include "segkit/data/preprocess.h"

namespace segkit {

struct AugmentOptions {
  /// Side of the square crop fed to the network; 0 keeps the whole image.
  int64_t crop = 256;
  bool hflip = true;
  bool vflip = false;
  bool rot90 = false;
  /// Largest rotation, degrees either way.
  double rotate = 0;
  double scale_min = 1, scale_max = 1;
  /// Largest shear, degrees either way.
  double shear = 0;
  /// Standard deviation, in pixels, of the random displacements on a coarse grid
  /// (the paper: 10 px on 3 x 3), interpolated bicubically to every pixel. 0: off.
  double elastic_sigma = 0;
  int64_t elastic_grid = 3;
  /// Largest brightness shift and contrast change, as fractions (0.1 = +-10%).
  double brightness = 0;
  double contrast = 0;
  /// Probability that a sample gets a box pasted from another sample of its batch.
  double cutmix = 0;
  /// Pixels the network drops on each side (unpadded U-Net): the mask is cropped to match.
  int64_t target_border = 0;
};

/// One augmented training sample.
struct TrainingSample {
  at::Tensor image;   ///< channels x S x S float, normalized
  at::Tensor mask;    ///< (S - 2 border) squared int64
  at::Tensor weight;  ///< same size, float; undefined without a weight map
};

/// Augments one image (H x W x 3 uint8) with its mask (H x W int64) and optional
/// weight map (H x W float), drawing every random choice from `rng`.
TrainingSample augment(const at::Tensor& image, const at::Tensor& mask, const at::Tensor& weight,
                       const AugmentOptions& options, const Preprocess& preprocess, std::mt19937_64& rng);

/// CutMix across a batch: sample i may get a random box from sample i+1 (image, mask
/// and weight together).
void cutmix(std::vector<TrainingSample>& batch, double probability, int64_t border, std::mt19937_64& rng);

}  // namespace segkit
