#include "segkit/models/heads/classifier_head.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include "segkit/core/errors.h"
#include "segkit/layers/onednn_conv.h"

namespace segkit {

ClassifierHeadImpl::ClassifierHeadImpl(const HeadConfig& config, const ShapeMap& shapes)
    : HeadImpl(config.in_features), config_(config) {
  int64_t features = input_shape(shapes, in_features().at(0)).channels * config.pool_size * config.pool_size;
  size_t linears = 0;
  for (const auto& spec : config.layers) linears += spec.kind == ClassifierLayer::Kind::kLinear;
  if (!config.indexed && linears != 1) fail("a classifier head named by itself holds exactly one Linear layer");
  for (size_t i = 0; i < config.layers.size(); ++i) {
    Layer layer;
    layer.spec = config.layers[i];
    if (layer.spec.kind == ClassifierLayer::Kind::kLinear) {
      const int64_t out = layer.spec.features > 0 ? layer.spec.features : config.num_classes;
      torch::nn::Linear linear(features, out);  // PyTorch's default initialization
      if (config.indexed) {
        register_module(std::to_string(i), linear);
      } else {
        register_parameter("weight", linear->weight);
        register_parameter("bias", linear->bias);
      }
      layer.weight = linear->weight;
      layer.bias = linear->bias;
      features = out;
    }
    layers_.push_back(std::move(layer));
  }
}

at::Tensor ClassifierHeadImpl::forward(const FeatureMap& features) {
  at::Tensor x = activate(input(features), config_.pre_activation);
  const int64_t k = config_.pool_size;
  x = k == 1 ? x.mean({2, 3}) : at::adaptive_avg_pool2d(x, {k, k}).flatten(1);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& layer = layers_[i];
    switch (layer.spec.kind) {
      case ClassifierLayer::Kind::kLinear:
        if (!layer.onednn) {
          x = at::linear(x, layer.weight, layer.bias);
          break;
        }
        x = (*layer.onednn)(x, layer.fused);
        if (layer.fused != Activation::kNone) ++i;  // the activation ran
        break;
      case ClassifierLayer::Kind::kReLU: x = activate(x, Activation::kReLU); break;
      case ClassifierLayer::Kind::kHardswish: x = activate(x, Activation::kHardswish); break;
      case ClassifierLayer::Kind::kDropout:
        if (is_training()) x = at::dropout(x, layer.spec.p, /*train=*/true);
        break;
    }
  }
  return x;
}

void ClassifierHeadImpl::optimize_for_inference(const InferenceOptions& options) {
  if (!options.onednn || !OneDnnConv::available() || !OneDnnConv::supports(options.dtype)) return;
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& layer = layers_[i];
    if (layer.spec.kind != ClassifierLayer::Kind::kLinear || layer.onednn) continue;
    const auto next = i + 1 < layers_.size() ? std::optional(layers_[i + 1].spec.kind) : std::nullopt;
    if (next == ClassifierLayer::Kind::kReLU) layer.fused = Activation::kReLU;
    if (next == ClassifierLayer::Kind::kHardswish) layer.fused = Activation::kHardswish;
    layer.onednn = std::make_shared<OneDnnLinear>(layer.weight, layer.bias, options.dtype);
    // OneDnnLinear holds them now, in the model's type (VGG's first weight is 411 MB in float32).
    for (at::Tensor* t : {&layer.weight, &layer.bias}) t->set_data(at::empty({0}, t->options()));
  }
}

std::optional<at::Tensor> ClassifierHeadImpl::class_activation_map(const at::Tensor& feature, int64_t target) const {
  if (config_.pool_size != 1) return std::nullopt;
  const Layer* linear = nullptr;
  for (const Layer& layer : layers_) {
    if (layer.spec.kind == ClassifierLayer::Kind::kLinear) {
      if (linear != nullptr) return std::nullopt;
      linear = &layer;
    } else if (layer.spec.kind != ClassifierLayer::Kind::kDropout) {
      return std::nullopt;
    }
  }
  if (linear == nullptr || linear->onednn) return std::nullopt;
  at::NoGradGuard no_grad;
  const at::Tensor activated =
      config_.pre_activation == Activation::kNone ? feature : activate(feature.clone(), config_.pre_activation);
  return (linear->weight[target].view({-1, 1, 1}) * activated).sum(0);
}

InceptionAuxHeadImpl::InceptionAuxHeadImpl(const HeadConfig& config, const ShapeMap& shapes)
    : HeadImpl(config.in_features) {
  const int64_t in_channels = input_shape(shapes, in_features().at(0)).channels;
  conv_ = register_module("conv", BasicConv2d(ConvSpec(in_channels, 128, 1)));
  fc1_ = register_module("fc1", torch::nn::Linear(128 * 4 * 4, 1024));
  fc2_ = register_module("fc2", torch::nn::Linear(1024, config.num_classes));
}

at::Tensor InceptionAuxHeadImpl::forward(const FeatureMap& features) {
  at::Tensor x = conv_->forward(at::adaptive_avg_pool2d(input(features), {4, 4})).flatten(1);
  x = activate(fc1_->forward(x), Activation::kReLU);
  if (is_training()) x = at::dropout(x, /*p=*/0.7, /*train=*/true);
  return fc2_->forward(x);
}

}  // namespace segkit
