#include "segkit/models/backbones/densenet.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>

#include "segkit/layers/conv_bn.h"

namespace segkit {
namespace {

/// BatchNorm then ReLU: DenseNet's pre-activation order, before each convolution.
at::Tensor norm_relu(torch::nn::BatchNorm2d& norm, const at::Tensor& x) {
  return activate(norm->forward(x), Activation::kReLU);
}

/// norm1, relu1, conv1 (1x1 to bn_size x growth), norm2, relu2, conv2 (3x3 to growth).
/// norm2 follows conv1 directly, so inference folds it in; norm1 follows a concatenation.
class DenseLayerImpl : public torch::nn::Module, public InferenceOptimizable {
 public:
  DenseLayerImpl(int64_t in, int64_t growth, int64_t bn_size)
      : norm1_(register_module("norm1", torch::nn::BatchNorm2d(in))),
        conv1_norm2_(*this, "conv1", "norm2", ConvSpec(in, bn_size * growth, 1)),
        conv2_(*this, "conv2", "", ConvSpec(bn_size * growth, growth, 3).padding(1)) {}

  /// The new features (growth channels) from all earlier ones (concatenated).
  at::Tensor forward(const at::Tensor& x) { return conv2_(conv1_norm2_(norm_relu(norm1_, x), Activation::kReLU)); }

  void optimize_for_inference(const InferenceOptions& o) override {
    conv1_norm2_.fold(o);
    conv2_.fold(o);
  }

 private:
  torch::nn::BatchNorm2d norm1_;
  ConvBn conv1_norm2_, conv2_;
};
TORCH_MODULE(DenseLayer);

/// denselayer1 .. denselayerN, each fed every earlier output of the block.
class DenseBlockImpl : public torch::nn::Module {
 public:
  DenseBlockImpl(int64_t layers, int64_t in, int64_t growth, int64_t bn_size) : in_(in), growth_(growth) {
    for (int64_t i = 0; i < layers; ++i) {
      layers_.push_back(
          register_module("denselayer" + std::to_string(i + 1), DenseLayer(in + i * growth, growth, bn_size)));
    }
  }

  int64_t out_channels() const { return in_ + static_cast<int64_t>(layers_.size()) * growth_; }

  at::Tensor forward(const at::Tensor& x) {
    if (at::GradMode::is_enabled()) {  // autograd needs the earlier features unmodified: concatenate
      std::vector<at::Tensor> features{x};
      for (auto& layer : layers_) features.push_back(layer->forward(at::cat(features, 1)));
      return at::cat(features, 1);
    }
    at::Tensor all = at::empty({x.size(0), out_channels(), x.size(2), x.size(3)},
                               x.options().memory_format(x.suggest_memory_format()));
    all.narrow(1, 0, in_).copy_(x);
    int64_t channels = in_;
    for (auto& layer : layers_) {
      all.narrow(1, channels, growth_).copy_(layer->forward(all.narrow(1, 0, channels)));
      channels += growth_;
    }
    return all;
  }

 private:
  int64_t in_, growth_;
  std::vector<DenseLayer> layers_;
};
TORCH_MODULE(DenseBlock);

/// norm, relu, conv (1x1, halving the channels), average pooling 2x2.
class TransitionImpl : public torch::nn::Module, public InferenceOptimizable {
 public:
  TransitionImpl(int64_t in, int64_t out)
      : norm_(register_module("norm", torch::nn::BatchNorm2d(in))), conv_(*this, "conv", "", ConvSpec(in, out, 1)) {}
  at::Tensor forward(const at::Tensor& x) { return at::avg_pool2d(conv_(norm_relu(norm_, x)), {2, 2}, {2, 2}); }
  void optimize_for_inference(const InferenceOptions& o) override { conv_.fold(o); }

 private:
  torch::nn::BatchNorm2d norm_;
  ConvBn conv_;
};
TORCH_MODULE(Transition);

struct DenseNetConfig {
  int64_t growth;
  std::vector<int64_t> blocks;
  int64_t init_features;
};

class DenseNetImpl : public BackboneImpl, public InferenceOptimizable {
 public:
  DenseNetImpl(std::string name, const DenseNetConfig& c, const BackboneOptions& options)
      : BackboneImpl(std::move(name)) {
    dilate_last_stages(options.output_stride(), 0, this->name());  // torchvision never dilates it
    constexpr int64_t kBnSize = 4;
    stem_ = ConvBn(*this, "conv0", "norm0", ConvSpec(3, c.init_features, 7).stride(2).padding(3));
    add_stage("relu0", [this](const at::Tensor& x) { return stem_(x, Activation::kReLU); }, {c.init_features, 2});
    add_stage("pool0",
              [](const at::Tensor& x) {
                return at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
              },
              {c.init_features, 4});
    int64_t channels = c.init_features, stride = 4;
    for (size_t i = 0; i < c.blocks.size(); ++i) {
      const std::string n = std::to_string(i + 1);
      auto block = register_module("denseblock" + n, DenseBlock(c.blocks[i], channels, c.growth, kBnSize));
      channels = block->out_channels();
      add_stage("denseblock" + n, [block](const at::Tensor& x) mutable { return block->forward(x); },
                {channels, stride});
      if (i + 1 == c.blocks.size()) break;
      auto transition = register_module("transition" + n, Transition(channels, channels / 2));
      channels /= 2;
      stride *= 2;
      add_stage("transition" + n, [transition](const at::Tensor& x) mutable { return transition->forward(x); },
                {channels, stride});
    }
    auto norm5 = register_module("norm5", torch::nn::BatchNorm2d(channels));
    add_stage("norm5", [norm5](const at::Tensor& x) mutable { return norm5->forward(x); }, {channels, stride});
  }

  void optimize_for_inference(const InferenceOptions& o) override { stem_.fold(o); }

 private:
  ConvBn stem_;
};
TORCH_MODULE(DenseNet);

}  // namespace

void add_densenet_backbones(Registry<BackboneBuilder>& registry) {
  const std::vector<std::pair<std::string, DenseNetConfig>> variants = {
      {"densenet121", {32, {6, 12, 24, 16}, 64}},
      {"densenet161", {48, {6, 12, 36, 24}, 96}},
      {"densenet169", {32, {6, 12, 32, 32}, 64}},
      {"densenet201", {32, {6, 12, 48, 32}, 64}},
  };
  for (const auto& [name, config] : variants) {
    registry.add(name,
                 [name = name, config = config](const BackboneOptions& o) { return DenseNet(name, config, o).ptr(); });
  }
}

}  // namespace segkit
