#pragma once

// Where a network looks: class activation maps (Zhou et al. 2016) for classifiers that
// end in global average pooling and one linear layer, and Grad-CAM (Selvaraju et al.
// 2017) for any layer of any classifier or semantic model; for a semantic model the
// explained score is a class's logits summed over a region of its mask (Vinogradova
// et al. 2020). A FeatureTap records the layer's activations in the autograd graph.

#include <ATen/Tensor.h>

#include <array>
#include <optional>
#include <string>

#include "segkit/models/model.h"

namespace segkit {

struct CamOptions {
  /// The layer to explain (a backbone stage such as "layer4"; see ModelImpl::layer_names()).
  std::string layer;
  /// The class explained; default: the top class (classifiers) or the class predicted on
  /// most pixels of the region (semantic models).
  std::optional<int64_t> target_class;
  /// Semantic models: the region (x0, y0, x1, y1 in input pixels, end exclusive) whose
  /// pixels predicted as the class are summed; default: the whole input.
  std::optional<std::array<int64_t, 4>> region;
};

struct CamResult {
  /// h x w at the layer's resolution, not normalized: Grad-CAM's ReLU of the channel-weighted
  /// activations; CAM's class-weighted feature map as Zhou et al. define it (negative values kept).
  at::Tensor map;
  /// H x W at the input's size, bilinear, scaled to [0, 1] by its maximum.
  at::Tensor heat;
  int64_t target_class = 0;
};

/// Grad-CAM of one input (1 x C x H x W, preprocessed) on a classifier or a semantic model
/// in eval mode; the channel weights are the mean gradients of the target score.
CamResult grad_cam(ModelImpl& model, const at::Tensor& input, const CamOptions& options);

/// CAM of one input on a classifier whose head is global average pooling then one linear
/// layer (ResNet, DenseNet, GoogLeNet, MobileNetV2, EfficientNet): the last feature map
/// weighted by the class's linear weights. An error names the models it fits otherwise.
CamResult class_activation_map(ModelImpl& model, const at::Tensor& input, std::optional<int64_t> target_class);

}  // namespace segkit
