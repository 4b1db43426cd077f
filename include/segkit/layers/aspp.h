#pragma once

// Atrous spatial pyramid pooling (DeepLabV3), with torchvision's module names.

#include <vector>

#include "segkit/layers/conv_bn.h"

namespace segkit {

/// Image-level pooling branch: global average, 1x1 conv ("1"), BatchNorm ("2"), ReLU, back to full size.
class ASPPPoolingImpl : public torch::nn::Module, public InferenceOptimizable {
 public:
  ASPPPoolingImpl(int64_t in_channels, int64_t out_channels);
  at::Tensor forward(const at::Tensor& x);
  void optimize_for_inference(const InferenceOptions& o) override { conv_bn_.fold(o); }

 private:
  ConvBn conv_bn_;
};
TORCH_MODULE(ASPPPooling);

/// A 1x1 branch, one 3x3 branch per atrous rate and the pooling branch ("convs"),
/// concatenated and projected to out_channels ("project"), dropout 0.5.
class ASPPImpl : public torch::nn::Module, public InferenceOptimizable {
 public:
  ASPPImpl(int64_t in_channels, const std::vector<int64_t>& atrous_rates, int64_t out_channels = 256);
  at::Tensor forward(const at::Tensor& x);
  void optimize_for_inference(const InferenceOptions& o) override { project_.fold(o); }

 private:
  std::vector<ConvNormAct> branches_;
  ASPPPooling pooling_{nullptr};
  ConvBn project_;
};
TORCH_MODULE(ASPP);

}  // namespace segkit
