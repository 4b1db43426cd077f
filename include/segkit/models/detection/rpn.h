#pragma once

// Faster R-CNN's region proposal network, as torchvision 0.14's RegionProposalNetwork in
// inference: a shared 3x3 conv + ReLU on each pyramid level ("head.conv.0.0"), an objectness
// logit and four box deltas per anchor ("head.cls_logits", "head.bbox_pred"); the deltas decoded
// against the anchors; per image the top-n anchors of each level by objectness, clipped to the
// image, tiny boxes dropped, NMS within each level, the best post-NMS top-n kept.

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include <string>
#include <utility>
#include <vector>

#include "segkit/models/detection/anchor_generator.h"
#include "segkit/ops/box_coder.h"

namespace segkit {

/// The head conv's first spelling in torchvision ("rpn.head.conv.weight", RPNHead version 1,
/// the v1 COCO files) rewritten to the current one ("rpn.head.conv.0.0.weight"), as a
/// (regex, replacement) pair for a zoo entry's key renames.
inline const std::pair<std::string, std::string> kRpnHeadV1Keys{R"(^(.*head\.conv)\.(weight|bias)$)", "$1.0.0.$2"};

class RPNHeadImpl : public torch::nn::Module {
 public:
  RPNHeadImpl(int64_t in_channels, int64_t num_anchors);
  /// Per level: objectness logits [N, A, H, W] and box deltas [N, 4A, H, W].
  std::pair<std::vector<at::Tensor>, std::vector<at::Tensor>> forward(const std::vector<at::Tensor>& features);

 private:
  torch::nn::Sequential conv_{nullptr};
  torch::nn::Conv2d cls_logits_{nullptr}, bbox_pred_{nullptr};
};
TORCH_MODULE(RPNHead);

struct RPNOptions {
  TORCH_ARG(int64_t, pre_nms_top_n) = 1000;   ///< per level and image (torchvision's test value)
  TORCH_ARG(int64_t, post_nms_top_n) = 1000;  ///< per image
  TORCH_ARG(double, nms_thresh) = 0.7;
  TORCH_ARG(double, score_thresh) = 0.0;
  TORCH_ARG(double, min_size) = 1e-3;
};

/// One image's proposals: boxes [K, 4] in input pixels and their objectness in [0, 1].
struct Proposals {
  at::Tensor boxes;
  at::Tensor scores;
};

class RegionProposalNetworkImpl : public torch::nn::Module {
 public:
  RegionProposalNetworkImpl(AnchorGenerator anchors, int64_t in_channels, RPNOptions options = {});

  /// `features`: the pyramid levels [N, C, Hk, Wk] of a batch padded to `input_size`;
  /// `image_sizes`: each image's size before padding (height, width).
  std::vector<Proposals> forward(const std::vector<at::Tensor>& features, std::pair<int64_t, int64_t> input_size,
                                 const std::vector<std::pair<int64_t, int64_t>>& image_sizes);

  RPNOptions options;

 private:
  AnchorGenerator anchors_;
  ops::BoxCoder coder_{{1.0, 1.0, 1.0, 1.0}};
  RPNHead head_{nullptr};
};
TORCH_MODULE(RegionProposalNetwork);

}  // namespace segkit
