#pragma once

#include "segkit/layers/aspp.h"
#include "segkit/models/heads/head.h"

namespace segkit {

/// torchvision's DeepLabHead: ASPP ("0"), 3x3 conv ("1"), BatchNorm ("2"), ReLU, 1x1 conv ("4").
class DeepLabHeadImpl : public HeadImpl, public InferenceOptimizable {
 public:
  DeepLabHeadImpl(std::string in_feature, int64_t in_channels, int64_t num_classes,
                  const std::vector<int64_t>& atrous_rates = {12, 24, 36});
  at::Tensor forward(const FeatureMap& features) override;
  void optimize_for_inference(const InferenceOptions& o) override { conv_bn_.fold(o); }

 private:
  std::string in_feature_;
  ASPP aspp_{nullptr};
  ConvBn conv_bn_;
  torch::nn::Conv2d classifier_{nullptr};
};
TORCH_MODULE(DeepLabHead);

}  // namespace segkit
