#pragma once

// The instance-segmentation task's interface (Mask R-CNN implements it): images of
// any sizes in, per-image instances out in inference; named losses in training.

#include <memory>
#include <vector>

#include "segkit/models/model.h"

namespace segkit {

class InstanceSegmentorImpl : public ModelImpl {
 public:
  Task task() const override { return Task::kInstance; }
  /// Per image (3 x H x W float in [0, 1]; the model normalizes and resizes it itself): its
  /// instances, best first, boxes in its pixels and masks pasted at H x W.
  virtual std::vector<Instances> forward(const std::vector<at::Tensor>& images) = 0;
  /// Keeps detections scoring at least `score_thresh`, at most `max_detections` per image.
  virtual void set_detection_limits(double score_thresh, int64_t max_detections) = 0;
};
using InstanceSegmentor = std::shared_ptr<InstanceSegmentorImpl>;

}  // namespace segkit
