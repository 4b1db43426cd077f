#pragma once

#include "segkit/models/heads/head.h"

namespace segkit {

/// torchvision's LRASPPHead (Lite R-ASPP, MobileNetV3 paper) on in_features {low, high}:
/// the high-level feature through 1x1 conv+BN+ReLU ("cbr", `channels` wide, default 128),
/// gated by a pooled 1x1 conv and sigmoid ("scale"), upsampled to the low-level feature,
/// and the two classifiers' outputs summed.
class LRASPPHeadImpl : public HeadImpl, public InferenceOptimizable {
 public:
  LRASPPHeadImpl(const HeadConfig& config, const ShapeMap& shapes);
  at::Tensor forward(const FeatureMap& features) override;
  void optimize_for_inference(const InferenceOptions& o) override {
    for (ConvBn* conv : {&cbr_, &scale_, &low_classifier_, &high_classifier_}) conv->fold(o);
  }

 private:
  ConvBn cbr_, scale_, low_classifier_, high_classifier_;  // the last three without BatchNorm
};
TORCH_MODULE(LRASPPHead);

}  // namespace segkit
