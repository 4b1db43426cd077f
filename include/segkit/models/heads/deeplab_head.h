#pragma once

#include "segkit/layers/aspp.h"
#include "segkit/models/heads/head.h"

namespace segkit {

/// torchvision's DeepLabHead on in_features[0]: ASPP ("0", `channels` wide, default 256,
/// at `atrous_rates`), 3x3 conv ("1"), BatchNorm ("2"), ReLU, 1x1 conv ("4").
class DeepLabHeadImpl : public HeadImpl, public InferenceOptimizable {
 public:
  DeepLabHeadImpl(const HeadConfig& config, const ShapeMap& shapes);
  at::Tensor forward(const FeatureMap& features) override;
  void optimize_for_inference(const InferenceOptions& o) override { conv_bn_.fold(o); }

 private:
  ASPP aspp_{nullptr};
  ConvBn conv_bn_;
  torch::nn::Conv2d classifier_{nullptr};
};
TORCH_MODULE(DeepLabHead);

}  // namespace segkit
