#pragma once

#include "segkit/layers/conv_bn.h"
#include "segkit/models/heads/head.h"

namespace segkit {

/// torchvision's LRASPPHead (Lite R-ASPP, MobileNetV3 paper): the high-level feature
/// through 1x1 conv+BN+ReLU ("cbr"), gated by a pooled 1x1 conv and sigmoid ("scale"),
/// upsampled to the low-level feature and the two classifiers' outputs summed.
class LRASPPHeadImpl : public HeadImpl, public InferenceOptimizable {
 public:
  LRASPPHeadImpl(std::string low_feature, int64_t low_channels, std::string high_feature, int64_t high_channels,
                 int64_t num_classes, int64_t inter_channels = 128);
  at::Tensor forward(const FeatureMap& features) override;
  void optimize_for_inference(const InferenceOptions&) override { cbr_.fold(); }

 private:
  std::string low_feature_, high_feature_;
  ConvBn cbr_;
  torch::nn::Conv2d scale_{nullptr}, low_classifier_{nullptr}, high_classifier_{nullptr};
};
TORCH_MODULE(LRASPPHead);

}  // namespace segkit
