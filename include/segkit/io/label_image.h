#pragma once

// Label maps in and out, and the OpenCV label operations segkit needs
// (connected components, distance transforms), all as tensors.

#include <ATen/Tensor.h>

#include <string>

#include "segkit/io/image.h"

namespace segkit {

/// Reads a one-channel 8- or 16-bit PNG/TIFF/BMP label map as an H x W int64 tensor,
/// values unchanged; a palette PNG (VOC's SegmentationClass) gives its indices, as PIL
/// does. Throws InputError naming the file if it is missing, not an image, truncated,
/// corrupt, over `max_pixels` (checked from the header) or has colour channels that differ.
at::Tensor read_label_image(const std::string& path, int64_t max_pixels = kDefaultMaxPixels);

/// Labels the 4-connected components where `mask` (H x W, bool or integer) is non-zero:
/// H x W int64, 0 outside, 1..count inside. Returns the count through `count`.
at::Tensor connected_components(const at::Tensor& mask, int64_t* count = nullptr);

/// Euclidean distance (H x W float) from each pixel to the nearest zero of `mask`.
at::Tensor distance_to_zero(const at::Tensor& mask);

/// Writes an 8-bit gray (label map) or RGB PNG, or a 16-bit gray one (label maps of more than
/// 256 classes), row by row, without holding the whole image: for images too large to keep.
/// The file appears (atomically) on finish().
class StreamingPng {
 public:
  StreamingPng(const std::string& path, int64_t height, int64_t width, int64_t channels = 1, int64_t bit_depth = 8);
  ~StreamingPng();
  StreamingPng(const StreamingPng&) = delete;
  StreamingPng& operator=(const StreamingPng&) = delete;

  /// Appends rows: R x W (gray; integer values below 2^bit_depth) or R x W x 3 (RGB) uint8.
  void write_rows(const at::Tensor& rows);
  void finish();

 private:
  struct State;
  State* state_;
};

}  // namespace segkit
