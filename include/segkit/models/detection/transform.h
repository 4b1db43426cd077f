#pragma once

// What Faster and Mask R-CNN do to images around the network, as torchvision 0.14's
// GeneralizedRCNNTransform in inference: each image normalized, resized so that its shorter
// side is min_size unless its longer side would pass max_size (bilinear; the size floored as
// torchvision does), the batch zero-padded to a multiple of 32; afterwards the detections'
// boxes scaled back to each original image and the masks pasted at its size.

#include <ATen/core/Tensor.h>

#include <array>
#include <utility>
#include <vector>

#include "segkit/models/detection/roi_heads.h"
#include "segkit/models/model.h"

namespace segkit {

struct DetectionTransformOptions {
  using Channels = std::array<double, 3>;
  TORCH_ARG(double, min_size) = 800;
  TORCH_ARG(double, max_size) = 1333;
  TORCH_ARG(int64_t, size_divisible) = 32;
  TORCH_ARG(Channels, mean) = {0.485, 0.456, 0.406};
  TORCH_ARG(Channels, std) = {0.229, 0.224, 0.225};
};

/// A padded batch and each image's size inside it.
struct ImageBatch {
  at::Tensor tensors;                                    ///< [N, 3, H, W], H and W multiples of size_divisible
  std::vector<std::pair<int64_t, int64_t>> image_sizes;  ///< (height, width) after resizing, before padding
};

class DetectionTransform {
 public:
  explicit DetectionTransform(DetectionTransformOptions options = {}) : options_(options) {}

  /// The size (height, width) an image of `height` x `width` is resized to.
  std::pair<int64_t, int64_t> resized_size(int64_t height, int64_t width) const;

  /// `images`: each [3, H, W] float in [0, 1], of any sizes.
  ImageBatch operator()(const std::vector<at::Tensor>& images) const;

  /// Detections in the batch's pixels to instances in each original image's: boxes scaled,
  /// masks pasted ([K, H, W] probabilities; empty when the detections have none).
  std::vector<Instances> postprocess(const std::vector<Detections>& detections, const ImageBatch& batch,
                                     const std::vector<std::pair<int64_t, int64_t>>& original_sizes) const;

  const DetectionTransformOptions& options() const { return options_; }

 private:
  DetectionTransformOptions options_;
};

}  // namespace segkit
