#pragma once

#include <ATen/Tensor.h>

#include <array>
#include <string>
#include <utility>

#include "segkit/io/image.h"

namespace segkit {

/// Image pixels to a network input, as torchvision's presets do it: short-side resize,
/// optional center crop (ImageClassification), scale to [0, 1], per-channel
/// normalization; for one-channel models the same on the image's luminance.
struct Preprocess {
  /// Resize so the short side has this many pixels; 0 keeps the image's size.
  int64_t resize = 520;
  /// Then crop the center to crop x crop (padding with black where the image is smaller); 0: no crop.
  int64_t crop = 0;
  /// How enlarging resizes interpolate (shrinking averages areas).
  Interpolation interpolation = Interpolation::kBilinear;
  /// 3: RGB; 1: luminance (ITU-R 601 weights, exact for gray images).
  int64_t channels = 3;
  std::array<double, 3> mean{0.485, 0.456, 0.406};
  std::array<double, 3> std{0.229, 0.224, 0.225};

  /// No resize, one channel, mean 0.5 and deviation 0.5: what segkit's U-Nets are trained with.
  static Preprocess gray();
  /// torchvision's ImageClassification preset: resize, center crop, ImageNet statistics.
  static Preprocess imagenet(int64_t resize = 256, int64_t crop = 224,
                             Interpolation interpolation = Interpolation::kBilinear);

  /// The size after resizing, before cropping.
  std::pair<int64_t, int64_t> resized_size(int64_t height, int64_t width) const;
  /// The network's input size for an image of this size.
  std::pair<int64_t, int64_t> input_size(int64_t height, int64_t width) const;
  /// An H x W x 3 uint8 image to a normalized channels x h x w float tensor at input_size().
  at::Tensor operator()(const at::Tensor& pixels) const;
  /// Normalizes an H x W x 3 uint8 image without resizing or cropping it.
  at::Tensor normalize(const at::Tensor& pixels) const;

  /// As a JSON object: resize, crop, interpolation ("bilinear"/"bicubic"), channels, mean, std.
  std::string to_json() const;
  /// The inverse; throws InputError naming `source` for malformed text.
  static Preprocess from_json(const std::string& text, const std::string& source);
};

/// torchvision's center_crop of an H x W x C image: the crop's top-left corner at
/// round((H - size) / 2), round((W - size) / 2); zero padding where the image is smaller.
at::Tensor center_crop(const at::Tensor& pixels, int64_t size);

}  // namespace segkit
