#include "segkit/models/detection/rpn.h"

#include <torch/nn/init.h>

#include <ATen/ATen.h>

#include <algorithm>

#include "segkit/layers/conv_bn.h"
#include "segkit/ops/boxes.h"
#include "segkit/ops/nms.h"

namespace segkit {
namespace {

// torchvision's RPN head initialization: weights from N(0, 0.01), zero biases.
torch::nn::Conv2d normal_init(torch::nn::Conv2d conv) {
  torch::nn::init::normal_(conv->weight, 0, 0.01);
  torch::nn::init::zeros_(conv->bias);
  return conv;
}

torch::nn::Conv2d normal_conv(int64_t in, int64_t out, int64_t kernel) {
  return normal_init(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).padding(kernel / 2)));
}

// [N, A * C, H, W] to [N, H * W * A, C]: anchors in the order the generator lists them
// (row, column, anchor).
at::Tensor flatten_per_anchor(const at::Tensor& x, int64_t channels) {
  const int64_t n = x.size(0), a = x.size(1) / channels, h = x.size(2), w = x.size(3);
  return x.view({n, a, channels, h, w}).permute({0, 3, 4, 1, 2}).reshape({n, -1, channels});
}

}  // namespace

RPNHeadImpl::RPNHeadImpl(int64_t in_channels, int64_t num_anchors) {
  ConvAct conv(ConvSpec(in_channels, in_channels, 3).padding(1), Activation::kReLU);
  normal_init(conv->conv());
  conv_ = register_module("conv", torch::nn::Sequential(conv));
  cls_logits_ = register_module("cls_logits", normal_conv(in_channels, num_anchors, 1));
  bbox_pred_ = register_module("bbox_pred", normal_conv(in_channels, 4 * num_anchors, 1));
}

std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> RPNHeadImpl::forward(
    const std::vector<at::Tensor>& features) {
  std::vector<at::Tensor> logits, deltas;
  for (const at::Tensor& level : features) {
    const at::Tensor t = conv_->forward(level);
    logits.push_back(cls_logits_->forward(t));
    deltas.push_back(bbox_pred_->forward(t));
  }
  return {logits, deltas};
}

RegionProposalNetworkImpl::RegionProposalNetworkImpl(AnchorGenerator anchors, int64_t in_channels, RPNOptions options_)
    : options(options_), anchors_(std::move(anchors)) {
  const std::vector<int64_t> per_location = anchors_.num_anchors_per_location();
  TORCH_CHECK(std::all_of(per_location.begin(), per_location.end(), [&](int64_t a) { return a == per_location[0]; }),
              "RegionProposalNetwork: one head needs the same number of anchors at every level");
  head_ = register_module("head", RPNHead(in_channels, per_location[0]));
}

std::vector<Proposals> RegionProposalNetworkImpl::forward(const std::vector<at::Tensor>& features,
                                                          std::pair<int64_t, int64_t> input_size,
                                                          const std::vector<std::pair<int64_t, int64_t>>& image_sizes) {
  const int64_t images = static_cast<int64_t>(image_sizes.size());
  TORCH_CHECK(!features.empty() && features[0].size(0) == images, "RegionProposalNetwork: ", image_sizes.size(),
              " image sizes for a batch of ", features.empty() ? 0 : features[0].size(0));
  auto [logits, deltas] = head_->forward(features);
  std::vector<std::pair<int64_t, int64_t>> feature_sizes;
  std::vector<at::Tensor> flat_logits, flat_deltas;
  std::vector<int64_t> per_level;
  for (size_t level = 0; level < features.size(); ++level) {
    feature_sizes.emplace_back(features[level].size(2), features[level].size(3));
    flat_logits.push_back(flatten_per_anchor(logits[level], 1));
    flat_deltas.push_back(flatten_per_anchor(deltas[level], 4));
    per_level.push_back(flat_logits.back().size(1));
  }
  const at::Tensor anchors = anchors_.anchors(input_size, feature_sizes, features[0].scalar_type());
  const at::Tensor objectness = at::cat(flat_logits, 1).reshape({images, -1});
  // Every image has the same anchors: decode the batch against them repeated.
  const at::Tensor boxes =
      coder_.decode(at::cat(flat_deltas, 1).reshape({-1, 4}), anchors.repeat({images, 1})).view({images, -1, 4});

  // The top-n of each level by objectness, as indices into the image's anchors.
  std::vector<at::Tensor> top, top_levels;
  int64_t offset = 0;
  for (size_t level = 0; level < per_level.size(); ++level) {
    const int64_t n = std::min(options.pre_nms_top_n(), per_level[level]);
    const at::Tensor best = std::get<1>(objectness.narrow(1, offset, per_level[level]).topk(n, 1));
    top.push_back(best + offset);
    top_levels.push_back(at::full({images, n}, static_cast<int64_t>(level), at::kLong));
    offset += per_level[level];
  }
  const at::Tensor chosen = at::cat(top, 1);
  const at::Tensor chosen_levels = at::cat(top_levels, 1);

  std::vector<Proposals> proposals;
  for (int64_t i = 0; i < images; ++i) {
    at::Tensor b =
        ops::clip_boxes_to_image(boxes[i].index_select(0, chosen[i]), image_sizes[i].first, image_sizes[i].second);
    at::Tensor s = objectness[i].index_select(0, chosen[i]).sigmoid();
    at::Tensor l = chosen_levels[i];
    at::Tensor keep = ops::remove_small_boxes(b, options.min_size());
    b = b.index_select(0, keep), s = s.index_select(0, keep), l = l.index_select(0, keep);
    keep = at::where(s.ge(options.score_thresh()))[0];
    b = b.index_select(0, keep), s = s.index_select(0, keep), l = l.index_select(0, keep);
    keep = ops::batched_nms(b, s, l, options.nms_thresh());
    keep = keep.narrow(0, 0, std::min(options.post_nms_top_n(), keep.size(0)));
    proposals.push_back({b.index_select(0, keep), s.index_select(0, keep)});
  }
  return proposals;
}

}  // namespace segkit
