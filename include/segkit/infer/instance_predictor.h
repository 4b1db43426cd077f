#pragma once

// Runs an instance segmentation model (Faster or Mask R-CNN) for inference: eval mode, the
// backbone's BatchNorm folded into its convolutions and fed channels-last, no autograd.

#include <c10/core/Device.h>

#include <vector>

#include "segkit/infer/inference.h"
#include "segkit/models/segmentors/instance_segmentor.h"

namespace segkit {

class InstancePredictor {
 public:
  /// Takes the model over (pass it with std::move): it is rewritten for inference in place.
  explicit InstancePredictor(InstanceSegmentor model, c10::Device device = c10::Device("cpu"));
  InstancePredictor(InstanceSegmentor model, c10::Device device, const InferenceOptions& options);

  /// Each image's instances (H x W x 3 uint8 pixels), best first, on the CPU.
  std::vector<Instances> predict(const std::vector<Image>& images);
  /// The same for [3, H, W] float images in [0, 1].
  std::vector<Instances> forward(const std::vector<at::Tensor>& images);

  InstanceSegmentorImpl& model() { return *model_; }

 private:
  InstanceSegmentor model_;
  c10::Device device_;
};

/// Instances as one H x W map: 0 for background, k for the k-th instance (best first) where
/// its mask probability is at least 0.5; where masks overlap, the better-scoring instance wins.
/// int64; for Faster R-CNN (no masks) the boxes are filled instead.
at::Tensor instance_map(const Instances& instances, int64_t height, int64_t width);

}  // namespace segkit
