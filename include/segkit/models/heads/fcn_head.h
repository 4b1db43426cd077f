#pragma once

#include "segkit/layers/conv_bn.h"
#include "segkit/models/heads/head.h"

namespace segkit {

/// torchvision's FCNHead: 3x3 conv to in/4 channels, BatchNorm, ReLU, dropout 0.1,
/// 1x1 conv to the classes (modules "0", "1", "4").
class FCNHeadImpl : public HeadImpl, public InferenceOptimizable {
 public:
  FCNHeadImpl(std::string in_feature, int64_t in_channels, int64_t num_classes);
  at::Tensor forward(const FeatureMap& features) override;
  void optimize_for_inference(const InferenceOptions& o) override { conv_bn_.fold(o); }

 private:
  std::string in_feature_;
  ConvBn conv_bn_;
  torch::nn::Conv2d classifier_{nullptr};
};
TORCH_MODULE(FCNHead);

}  // namespace segkit
