#pragma once

#include <ATen/Tensor.h>

#include <array>
#include <utility>

namespace segkit {

/// Image pixels to a network input: torchvision's SemanticSegmentation transform
/// (short-side resize, scale to [0, 1], per-channel normalization), or for
/// one-channel models the same on the image's luminance.
struct Preprocess {
  /// Resize so the short side has this many pixels; 0 keeps the image's size.
  int64_t resize = 520;
  /// 3: RGB; 1: luminance (ITU-R 601 weights, exact for gray images).
  int64_t channels = 3;
  std::array<double, 3> mean{0.485, 0.456, 0.406};
  std::array<double, 3> std{0.229, 0.224, 0.225};

  /// No resize, one channel, mean 0.5 and deviation 0.5: what segkit's U-Nets are trained with.
  static Preprocess gray();

  /// The network's input size for an image of this size.
  std::pair<int64_t, int64_t> input_size(int64_t height, int64_t width) const;
  /// An H x W x 3 uint8 image to a normalized channels x h x w float tensor at input_size().
  at::Tensor operator()(const at::Tensor& pixels) const;
  /// Normalizes an H x W x 3 uint8 image without resizing it.
  at::Tensor normalize(const at::Tensor& pixels) const;
};

}  // namespace segkit
