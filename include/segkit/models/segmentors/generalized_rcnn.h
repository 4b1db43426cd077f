#pragma once

// Faster R-CNN and Mask R-CNN, as torchvision 0.14's GeneralizedRCNN in inference: the
// transform (normalize, resize, pad), a backbone with a feature pyramid, the region proposal
// network and the RoI heads (boxes; masks for Mask R-CNN), then the detections mapped back to
// each image (boxes scaled, masks pasted). Module names are torchvision's ("backbone.body",
// "backbone.fpn", "rpn.head", "roi_heads.box_predictor"), so its checkpoints load as they are.
// Each step is public, so that tests and benchmarks can look between them.

#include <utility>
#include <vector>

#include "segkit/layers/conv_bn.h"
#include "segkit/models/detection/backbone_with_fpn.h"
#include "segkit/models/detection/roi_heads.h"
#include "segkit/models/detection/rpn.h"
#include "segkit/models/detection/transform.h"
#include "segkit/models/segmentors/instance_segmentor.h"

namespace segkit {

class GeneralizedRCNNImpl : public InstanceSegmentorImpl, public InferenceOptimizable {
 public:
  GeneralizedRCNNImpl(BackboneWithFPN backbone, AnchorGenerator anchors, RPNOptions rpn, RoIHeadsOptions heads,
                      DetectionTransformOptions transform = {});

  /// Per image ([3, H, W] float in [0, 1], any sizes): its instances at its own size.
  std::vector<Instances> forward(const std::vector<at::Tensor>& images) override;

  /// The steps forward() takes.
  ImageBatch transform(const std::vector<at::Tensor>& images) const { return transform_(images); }
  /// The pyramid's levels for a padded batch, finest first, then "pool".
  std::vector<at::Tensor> features(const ImageBatch& batch);
  std::vector<Proposals> propose(const std::vector<at::Tensor>& features, const ImageBatch& batch);
  std::vector<Detections> detect(const std::vector<at::Tensor>& features, const std::vector<Proposals>& proposals,
                                 const ImageBatch& batch);
  std::vector<Instances> postprocess(const std::vector<Detections>& detections, const ImageBatch& batch,
                                     const std::vector<std::pair<int64_t, int64_t>>& original_sizes) const {
    return transform_.postprocess(detections, batch, original_sizes);
  }

  void set_detection_limits(double score_thresh, int64_t max_detections) override;
  /// Images resized so that their shorter side is `min_size` unless the longer would pass
  /// `max_size` (torchvision's min_size and max_size; 800 and 1333 by default).
  void set_image_size(double min_size, double max_size);
  int64_t num_classes() const override { return roi_heads->options.num_classes(); }
  bool has_masks() const { return roi_heads->options.masks(); }
  /// Training Mask R-CNN is not built yet: throws.
  LossMap losses(const at::Tensor& images, const Targets& targets, const LossOptions& options) override;
  std::vector<std::string> head_modules() const override { return {"rpn", "roi_heads"}; }
  std::vector<std::string> layer_names() const override;
  /// The backbone and its pyramid computed in options.dtype (fed channels-last if asked), the
  /// RPN and RoI heads in float32: box regression, NMS and RoIAlign need float32's precision
  /// for coordinates of hundreds of pixels.
  void optimize_for_inference(const InferenceOptions& options) override;
  bool rewrites_children() const override { return true; }

  BackboneWithFPN backbone{nullptr};
  RegionProposalNetwork rpn{nullptr};
  RoIHeads roi_heads{nullptr};

 private:
  DetectionTransform transform_;
  bool channels_last_ = false;
  at::ScalarType backbone_dtype_ = at::kFloat;
};
TORCH_MODULE(GeneralizedRCNN);

/// The BatchNorm epsilon of every BatchNorm layer in `module`: torchvision's detection models
/// freeze their backbones' BatchNorm (FrozenBatchNorm2d, epsilon 1e-5), and its first COCO
/// files were made with epsilon 0.
void set_batch_norm_eps(torch::nn::Module& module, double eps);

}  // namespace segkit
