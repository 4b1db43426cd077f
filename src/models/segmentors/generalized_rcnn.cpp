#include "segkit/models/segmentors/generalized_rcnn.h"

#include <torch/nn/modules/batchnorm.h>

#include <ATen/ATen.h>

#include "segkit/core/errors.h"

namespace segkit {

GeneralizedRCNNImpl::GeneralizedRCNNImpl(BackboneWithFPN backbone_, AnchorGenerator anchors, RPNOptions rpn_options,
                                         RoIHeadsOptions heads, DetectionTransformOptions transform)
    : transform_(transform) {
  const int64_t channels = backbone_->out_channels();
  backbone = register_module("backbone", std::move(backbone_));
  rpn = register_module("rpn", RegionProposalNetwork(std::move(anchors), channels, rpn_options));
  roi_heads = register_module("roi_heads", RoIHeads(heads.in_channels(channels)));
}

std::vector<at::Tensor> GeneralizedRCNNImpl::features(const ImageBatch& batch) {
  const at::Tensor input = batch.tensors.to(backbone_dtype_);
  std::vector<at::Tensor> levels =
      backbone->forward(channels_last_ ? input.contiguous(at::MemoryFormat::ChannelsLast) : input);
  for (at::Tensor& level : levels) level = level.to(batch.tensors.scalar_type());
  return levels;
}

std::vector<Proposals> GeneralizedRCNNImpl::propose(const std::vector<at::Tensor>& features, const ImageBatch& batch) {
  return rpn->forward(features, {batch.tensors.size(2), batch.tensors.size(3)}, batch.image_sizes);
}

std::vector<Detections> GeneralizedRCNNImpl::detect(const std::vector<at::Tensor>& features,
                                                    const std::vector<Proposals>& proposals, const ImageBatch& batch) {
  // The heads pool from the pyramid's own levels, not from the extra "pool" level (torchvision's
  // MultiScaleRoIAlign over "0".."3" finds only the levels there are).
  const std::vector<std::string> names = backbone->level_names();
  std::vector<at::Tensor> levels;
  for (size_t i = 0; i < features.size(); ++i) {
    if (names.at(i) != "pool") levels.push_back(features[i]);
  }
  std::vector<at::Tensor> boxes;
  for (const Proposals& p : proposals) boxes.push_back(p.boxes);
  return roi_heads->forward(levels, boxes, batch.image_sizes);
}

std::vector<Instances> GeneralizedRCNNImpl::forward(const std::vector<at::Tensor>& images) {
  std::vector<std::pair<int64_t, int64_t>> original_sizes;
  for (const at::Tensor& image : images) {
    TORCH_CHECK(image.dim() == 3, "GeneralizedRCNN: images should be [3, H, W], got ", image.sizes());
    original_sizes.emplace_back(image.size(1), image.size(2));
  }
  const ImageBatch batch = transform(images);
  const std::vector<at::Tensor> pyramid = features(batch);
  return postprocess(detect(pyramid, propose(pyramid, batch), batch), batch, original_sizes);
}

void GeneralizedRCNNImpl::set_detection_limits(double score_thresh, int64_t max_detections) {
  if (!(score_thresh >= 0.0 && score_thresh <= 1.0)) fail("the score threshold must be in [0, 1], got ", score_thresh);
  if (max_detections < 1) fail("the detections per image must be at least 1, got ", max_detections);
  roi_heads->options.score_thresh(score_thresh).detections_per_image(max_detections);
}

void GeneralizedRCNNImpl::set_image_size(double min_size, double max_size) {
  if (!(min_size >= 1.0 && max_size >= min_size)) {
    fail("image sizes must satisfy 1 <= min size <= max size, got ", min_size, " and ", max_size);
  }
  transform_ =
      DetectionTransform(DetectionTransformOptions(transform_.options()).min_size(min_size).max_size(max_size));
}

void GeneralizedRCNNImpl::optimize_for_inference(const InferenceOptions& options) {
  channels_last_ = options.channels_last;
  backbone_dtype_ = options.dtype;
  segkit::optimize_for_inference(*backbone, options);
  InferenceOptions float32 = options;
  float32.dtype = at::kFloat;
  float32.int8 = false;  // the heads' few convolutions decide the detections: kept in float32
  segkit::optimize_for_inference(*rpn, float32);
  segkit::optimize_for_inference(*roi_heads, float32);
}

LossMap GeneralizedRCNNImpl::losses(const at::Tensor&, const Targets&, const LossOptions&) {
  fail("training Faster or Mask R-CNN is not supported yet (inference and evaluation are)");
}

std::vector<std::string> GeneralizedRCNNImpl::layer_names() const { return backbone->body->stage_names(); }

void set_batch_norm_eps(torch::nn::Module& module, double eps) {
  for (const auto& child : module.modules(/*include_self=*/true)) {
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(child.get())) bn->options.eps(eps);
  }
}

}  // namespace segkit
