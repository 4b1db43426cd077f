#pragma once

#include "segkit/models/heads/head.h"

namespace segkit {

/// torchvision's FCNHead on in_features[0]: 3x3 conv to `channels` (default: a quarter of
/// the input's), BatchNorm, ReLU, dropout 0.1, 1x1 conv to the classes (modules "0", "1", "4").
class FCNHeadImpl : public HeadImpl, public InferenceOptimizable {
 public:
  FCNHeadImpl(const HeadConfig& config, const ShapeMap& shapes);
  at::Tensor forward(const FeatureMap& features) override;
  void optimize_for_inference(const InferenceOptions& o) override { conv_bn_.fold(o); }

 private:
  ConvBn conv_bn_;
  torch::nn::Conv2d classifier_{nullptr};
};
TORCH_MODULE(FCNHead);

}  // namespace segkit
