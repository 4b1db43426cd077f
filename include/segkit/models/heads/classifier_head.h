#pragma once

#include <torch/nn/modules/linear.h>

#include <memory>
#include <optional>

#include "segkit/layers/conv_bn.h"
#include "segkit/layers/onednn_linear.h"
#include "segkit/models/backbones/googlenet.h"
#include "segkit/models/heads/head.h"

namespace segkit {

/// Image classification on in_features[0]: optional activation, adaptive average pooling
/// to pool_size x pool_size, flattening, then config.layers (torchvision's classifier
/// Sequentials: VGG's Linear-ReLU-Dropout x2-Linear, MobileNetV3's Linear-Hardswish-
/// Dropout-Linear, ResNet's one "fc"). Dropout acts in training only. Rewritten for oneDNN
/// inference, each Linear runs as a OneDnnLinear, the ReLU or Hardswish after it fused.
class ClassifierHeadImpl : public HeadImpl, public InferenceOptimizable {
 public:
  ClassifierHeadImpl(const HeadConfig& config, const ShapeMap& shapes);
  at::Tensor forward(const FeatureMap& features) override;
  void optimize_for_inference(const InferenceOptions& options) override;
  /// Class activation mapping (Zhou et al. 2016) of one image's feature map (C x h x w,
  /// before the head's activation): sum_k w_k^c f_k, for heads that are global average
  /// pooling and one linear layer (dropout aside); nullopt for other heads and once rewritten
  /// for oneDNN (the plain weights released).
  std::optional<at::Tensor> class_activation_map(const at::Tensor& feature, int64_t target) const;

 private:
  struct Layer {
    ClassifierLayer spec;
    at::Tensor weight, bias;               // kLinear
    std::shared_ptr<OneDnnLinear> onednn;  // kLinear, rewritten for inference
    Activation fused = Activation::kNone;  // the activation after it, run by `onednn`
  };
  HeadConfig config_;
  std::vector<Layer> layers_;
};
TORCH_MODULE(ClassifierHead);

/// GoogLeNet's InceptionAux on in_features[0]: adaptive average pooling to 4x4, 1x1
/// BasicConv2d to 128 ("conv"), fc1 to 1024, ReLU, dropout 0.7, fc2 to the classes.
class InceptionAuxHeadImpl : public HeadImpl {
 public:
  InceptionAuxHeadImpl(const HeadConfig& config, const ShapeMap& shapes);
  at::Tensor forward(const FeatureMap& features) override;

 private:
  BasicConv2d conv_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(InceptionAuxHead);

}  // namespace segkit
