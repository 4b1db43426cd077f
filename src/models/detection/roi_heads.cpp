#include "segkit/models/detection/roi_heads.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/conv.h>

#include <ATen/ATen.h>

#include <algorithm>

#include "segkit/layers/conv_bn.h"
#include "segkit/ops/boxes.h"
#include "segkit/ops/nms.h"

namespace segkit {

// "$1.0.0", never "$10.0": std::regex reads two digits after "$".
const std::vector<std::pair<std::string, std::string>> kMaskHeadV1Keys = {
    {R"(^(.*mask_head)\.mask_fcn1\.(weight|bias)$)", "$1.0.0.$2"},
    {R"(^(.*mask_head)\.mask_fcn2\.(weight|bias)$)", "$1.1.0.$2"},
    {R"(^(.*mask_head)\.mask_fcn3\.(weight|bias)$)", "$1.2.0.$2"},
    {R"(^(.*mask_head)\.mask_fcn4\.(weight|bias)$)", "$1.3.0.$2"}};

namespace {

// Kaiming-normal (fan out, ReLU) weights and zero biases, as torchvision's mask layers.
template <typename Conv>
Conv mask_conv(Conv conv) {
  torch::nn::init::kaiming_normal_(conv->weight, 0, torch::kFanOut, torch::kReLU);
  torch::nn::init::zeros_(conv->bias);
  return conv;
}

}  // namespace

RoIHeadsImpl::RoIHeadsImpl(RoIHeadsOptions options_) : options(options_) {
  TORCH_CHECK(options.num_classes() >= 2, "RoIHeads: ", options.num_classes(), " classes (background included)");
  const int64_t channels = options.in_channels(), width = options.representation();
  auto box_head = register_module("box_head", std::make_shared<torch::nn::Module>());
  fc6_ = box_head->register_module("fc6", torch::nn::Linear(channels * 7 * 7, width));
  fc7_ = box_head->register_module("fc7", torch::nn::Linear(width, width));
  auto box_predictor = register_module("box_predictor", std::make_shared<torch::nn::Module>());
  cls_score_ = box_predictor->register_module("cls_score", torch::nn::Linear(width, options.num_classes()));
  bbox_pred_ = box_predictor->register_module("bbox_pred", torch::nn::Linear(width, 4 * options.num_classes()));
  if (!options.masks()) return;
  mask_head_ = register_module("mask_head", torch::nn::Sequential());
  for (int layer = 0; layer < 4; ++layer) {
    mask_head_->push_back(ConvAct(ConvSpec(channels, channels, 3).padding(1), Activation::kReLU));
    mask_conv(mask_head_->ptr<ConvActImpl>(layer)->conv());
  }
  mask_predictor_ = register_module("mask_predictor", torch::nn::Sequential());
  mask_predictor_->push_back(
      "conv5_mask",
      mask_conv(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(channels, channels, 2).stride(2))));
  mask_predictor_->push_back("relu", torch::nn::ReLU(true));
  mask_predictor_->push_back(
      "mask_fcn_logits", mask_conv(torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, options.num_classes(), 1))));
}

std::vector<Detections> RoIHeadsImpl::forward(const std::vector<at::Tensor>& features,
                                              const std::vector<at::Tensor>& proposals,
                                              const std::vector<std::pair<int64_t, int64_t>>& image_sizes) {
  TORCH_CHECK(proposals.size() == image_sizes.size(), "RoIHeads: ", proposals.size(), " proposal sets for ",
              image_sizes.size(), " images");
  at::Tensor x = box_pool_.forward(features, proposals, image_sizes).flatten(1);
  x = fc7_->forward(fc6_->forward(x).relu_()).relu_();
  const at::Tensor logits = cls_score_->forward(x);
  const int64_t classes = logits.size(-1);
  const at::Tensor boxes = coder_.decode(bbox_pred_->forward(x), at::cat(proposals)).reshape({x.size(0), -1, 4});
  const at::Tensor scores = at::softmax(logits, -1);

  std::vector<Detections> detections;
  int64_t first = 0;
  for (size_t i = 0; i < proposals.size(); ++i) {
    const int64_t count = proposals[i].size(0);
    const auto [height, width] = image_sizes[i];
    // Every (proposal, class) pair but the background's is a candidate.
    at::Tensor b = ops::clip_boxes_to_image(boxes.narrow(0, first, count), height, width)
                       .narrow(1, 1, classes - 1)
                       .reshape({-1, 4});
    at::Tensor s = scores.narrow(0, first, count).narrow(1, 1, classes - 1).reshape(-1);
    at::Tensor l = at::arange(1, classes, at::kLong).view({1, -1}).expand({count, classes - 1}).reshape(-1);
    first += count;
    at::Tensor keep = at::where(s.gt(options.score_thresh()))[0];
    b = b.index_select(0, keep), s = s.index_select(0, keep), l = l.index_select(0, keep);
    keep = ops::remove_small_boxes(b, 1e-2);
    b = b.index_select(0, keep), s = s.index_select(0, keep), l = l.index_select(0, keep);
    keep = ops::batched_nms(b, s, l, options.nms_thresh());
    keep = keep.narrow(0, 0, std::min(options.detections_per_image(), keep.size(0)));
    detections.push_back({b.index_select(0, keep), s.index_select(0, keep), l.index_select(0, keep), {}});
  }
  if (!options.masks()) return detections;

  std::vector<at::Tensor> detected;
  for (const Detections& d : detections) detected.push_back(d.boxes);
  const at::Tensor pooled = mask_pool_.forward(features, detected, image_sizes);
  // No detection: no mask head (LibTorch 1.13's convolution fails on an empty batch with
  // channels-last weights, as the inference rewrite stores them).
  const at::Tensor mask_logits =
      pooled.size(0) == 0
          ? at::zeros({0, options.num_classes(), 2 * pooled.size(2), 2 * pooled.size(3)}, pooled.options())
          : mask_predictor_->forward(mask_head_->forward(pooled));
  std::vector<at::Tensor> labels;
  for (const Detections& d : detections) labels.push_back(d.labels);
  const at::Tensor all_labels = at::cat(labels);
  // Each detection's own class map: [K, 1, 28, 28].
  const at::Tensor index = all_labels.view({-1, 1, 1, 1}).expand({-1, 1, mask_logits.size(2), mask_logits.size(3)});
  const at::Tensor own = mask_logits.gather(1, index).sigmoid();
  first = 0;
  for (Detections& d : detections) {
    d.masks = own.narrow(0, first, d.labels.size(0));
    first += d.labels.size(0);
  }
  return detections;
}

}  // namespace segkit
