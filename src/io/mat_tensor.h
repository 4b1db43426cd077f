#pragma once

// Within io/: OpenCV images to tensors (the one conversion the files here share).

#include <ATen/ATen.h>

#include <opencv2/core.hpp>

namespace segkit {

/// An 8-bit 3-channel Mat (its channels in the order the caller keeps) as an owned H x W x 3 uint8 tensor.
inline at::Tensor to_tensor(const cv::Mat& image) {
  return at::from_blob(image.data, {image.rows, image.cols, 3}, at::kByte).clone();
}

}  // namespace segkit
