#pragma once

// A head turns a backbone's named features into logits: per-pixel class scores at
// the features' resolution (semantic heads) or per-image class scores (classifier
// heads). It reads the features named in its config and is built from the
// backbone's ShapeMap, never from channel counts typed per pair.

#include <torch/nn/module.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "segkit/core/registry.h"
#include "segkit/layers/conv_bn.h"
#include "segkit/models/backbones/backbone.h"

namespace segkit {

/// A layer of a classifier head after pooling and flattening, in torchvision's order
/// (a Sequential's indices count every layer, parameter-free ones too).
struct ClassifierLayer {
  enum class Kind { kLinear, kReLU, kHardswish, kDropout };
  Kind kind = Kind::kLinear;
  int64_t features = 0;  ///< kLinear: output features; 0 for the class count
  double p = 0;          ///< kDropout: drop probability (in training only)
};

/// Everything a registered head may read; each head documents what it uses.
struct HeadConfig {
  /// The backbone outputs it reads.
  std::vector<std::string> in_features;
  int64_t num_classes = 0;
  /// Inner channels: FCN's (0: a quarter of its input), ASPP's (256), LR-ASPP's (128).
  int64_t channels = 0;
  std::vector<int64_t> atrous_rates{12, 24, 36};
  /// Classifier heads: activation before pooling (DenseNet's ReLU after norm5), the pooled
  /// side (AlexNet 6, VGG 7, others 1), and the layers after flattening.
  Activation pre_activation = Activation::kNone;
  int64_t pool_size = 1;
  std::vector<ClassifierLayer> layers{{ClassifierLayer::Kind::kLinear, 0, 0}};
  /// true: layers registered by index ("classifier.6.weight"); false: the head holds its
  /// one Linear's weight and bias itself ("fc.weight").
  bool indexed = true;
};

class HeadImpl : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const FeatureMap& features) = 0;
  /// The backbone outputs this head reads.
  const std::vector<std::string>& in_features() const { return in_features_; }

 protected:
  explicit HeadImpl(std::vector<std::string> in_features) : in_features_(std::move(in_features)) {}
  /// The i-th feature this head reads; throws if the backbone did not return it.
  const at::Tensor& input(const FeatureMap& features, size_t i = 0) const;

 private:
  std::vector<std::string> in_features_;
};
using Head = std::shared_ptr<HeadImpl>;

/// The shape of backbone output `name`; an error naming the valid ones if there is none.
const ShapeSpec& input_shape(const ShapeMap& shapes, const std::string& name);

/// Heads by name: fcn, deeplabv3, lraspp, classifier, inception_aux.
using HeadBuilder = std::function<Head(const HeadConfig&, const ShapeMap&)>;
const Registry<HeadBuilder>& head_registry();
Head build_head(const std::string& type, const HeadConfig& config, const ShapeMap& shapes);

/// Bilinear resize with align_corners=false, as torch.nn.functional.interpolate.
at::Tensor resize_bilinear(const at::Tensor& x, int64_t height, int64_t width);

}  // namespace segkit
