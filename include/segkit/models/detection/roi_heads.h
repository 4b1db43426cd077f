#pragma once

// Faster and Mask R-CNN's RoI heads, as torchvision 0.14's RoIHeads in inference. Boxes: each
// proposal pooled 7x7 from its pyramid level, two fully connected layers of 1,024 + ReLU
// ("box_head.fc6", "fc7"), class logits and per-class box deltas ("box_predictor.cls_score",
// "bbox_pred", decoded with weights 10, 10, 5, 5); per image the class scores (softmax, the
// background dropped) above a threshold, tiny boxes dropped, NMS per class, the best kept.
// Masks: each detection pooled 14x14, four 3x3 convs + ReLU ("mask_head.0.0" ... "3.0"), a
// stride-2 transposed conv + ReLU ("mask_predictor.conv5_mask") and a 1x1 conv to one 28x28
// logit map per class ("mask_predictor.mask_fcn_logits"); the detection's class map, sigmoid.

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include <string>
#include <utility>
#include <vector>

#include "segkit/ops/box_coder.h"
#include "segkit/ops/poolers.h"

namespace segkit {

/// The mask head's first spellings in torchvision ("mask_head.mask_fcn1.weight", the v1 COCO
/// files) rewritten to the current ones ("mask_head.0.0.weight"), as zoo-entry key renames.
extern const std::vector<std::pair<std::string, std::string>> kMaskHeadV1Keys;

struct RoIHeadsOptions {
  explicit RoIHeadsOptions(int64_t num_classes) : num_classes_(num_classes) {}
  TORCH_ARG(int64_t, num_classes);  ///< background included (91 for COCO)
  TORCH_ARG(bool, masks) = true;    ///< Mask R-CNN; false: Faster R-CNN
  TORCH_ARG(int64_t, in_channels) = 256;
  TORCH_ARG(int64_t, representation) = 1024;  ///< the box head's width
  TORCH_ARG(double, score_thresh) = 0.05;
  TORCH_ARG(double, nms_thresh) = 0.5;
  TORCH_ARG(int64_t, detections_per_image) = 100;
};

/// One image's detections in the (resized) input's pixels.
struct Detections {
  at::Tensor boxes;   ///< [K, 4]
  at::Tensor scores;  ///< [K]
  at::Tensor labels;  ///< [K] int64, 1..num_classes-1
  at::Tensor masks;   ///< [K, 1, 28, 28] probabilities of the detection's class (Mask R-CNN)
};

class RoIHeadsImpl : public torch::nn::Module {
 public:
  explicit RoIHeadsImpl(RoIHeadsOptions options);

  /// `features`: the pyramid levels the heads pool from ("0".."3", finest first);
  /// `proposals`: per image [Ki, 4]; `image_sizes`: each image's (height, width) before padding.
  std::vector<Detections> forward(const std::vector<at::Tensor>& features, const std::vector<at::Tensor>& proposals,
                                  const std::vector<std::pair<int64_t, int64_t>>& image_sizes);

  RoIHeadsOptions options;

 private:
  ops::MultiScaleRoIAlign box_pool_{{/*output_size=*/7, /*sampling_ratio=*/2}};
  ops::MultiScaleRoIAlign mask_pool_{{/*output_size=*/14, /*sampling_ratio=*/2}};
  ops::BoxCoder coder_{{10.0, 10.0, 5.0, 5.0}};
  torch::nn::Linear fc6_{nullptr}, fc7_{nullptr}, cls_score_{nullptr}, bbox_pred_{nullptr};
  torch::nn::Sequential mask_head_{nullptr}, mask_predictor_{nullptr};
};
TORCH_MODULE(RoIHeads);

}  // namespace segkit
