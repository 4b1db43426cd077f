#include "segkit/models/backbones/mobilenet_v2.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/sequential.h>

#include <cmath>

#include "segkit/layers/conv_bn.h"

namespace segkit {
namespace {

/// torchvision's mobilenetv2.InvertedResidual: "conv" holds the optional 1x1 expansion
/// (ConvNormAct), the depthwise 3x3 (ConvNormAct), then the projection's conv and BatchNorm.
class InvertedResidualV2Impl : public torch::nn::Module, public InferenceOptimizable {
 public:
  InvertedResidualV2Impl(int64_t in, int64_t out, int64_t stride, int64_t expand_ratio)
      : use_residual_(stride == 1 && in == out) {
    const int64_t hidden = static_cast<int64_t>(std::lround(static_cast<double>(in * expand_ratio)));
    auto conv = register_module("conv", torch::nn::Sequential());
    size_t index = 0;
    if (expand_ratio != 1) {
      expand_ = conv->register_module(std::to_string(index++),
                                      ConvNormAct(ConvNormActOptions(in, hidden, 1).activation(Activation::kReLU6)));
    }
    depthwise_ = conv->register_module(
        std::to_string(index++),
        ConvNormAct(
            ConvNormActOptions(hidden, hidden, 3).stride(stride).groups(hidden).activation(Activation::kReLU6)));
    project_ = ConvBn(*conv, std::to_string(index), std::to_string(index + 1), ConvSpec(hidden, out, 1));
  }

  at::Tensor forward(const at::Tensor& x) {
    at::Tensor out = expand_ ? expand_->forward(x) : x;
    out = project_(depthwise_->forward(out));
    if (!use_residual_) return out;
    return at::GradMode::is_enabled() ? out + x : out.add_(x);
  }

  void optimize_for_inference(const InferenceOptions& o) override { project_.fold(o); }

 private:
  ConvNormAct expand_{nullptr}, depthwise_{nullptr};
  ConvBn project_;
  bool use_residual_;
};
TORCH_MODULE(InvertedResidualV2);

class MobileNetV2Impl : public BackboneImpl {
 public:
  MobileNetV2Impl(std::string name, const BackboneOptions& options) : BackboneImpl(std::move(name)) {
    dilate_last_stages(options.output_stride(), 0, this->name());  // torchvision never dilates it
    auto add = [this](auto module, int64_t channels, int64_t stride) {
      const std::string stage = std::to_string(stage_names().size());
      register_module(stage, module);
      add_stage(stage, [m = module](const at::Tensor& x) mutable { return m->forward(x); }, {channels, stride});
    };
    int64_t stride = 2;
    add(ConvNormAct(ConvNormActOptions(3, 32, 3).stride(2).activation(Activation::kReLU6)), 32, stride);
    // t (expansion), c (channels), n (blocks), s (stride of the first block)
    const int64_t table[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                 {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int64_t channels = 32;
    for (const auto& [t, c, n, s] : table) {
      for (int64_t i = 0; i < n; ++i) {
        if (i == 0) stride *= s;
        add(InvertedResidualV2(channels, c, i == 0 ? s : 1, t), c, stride);
        channels = c;
      }
    }
    add(ConvNormAct(ConvNormActOptions(channels, 1280, 1).activation(Activation::kReLU6)), 1280, stride);
  }
};
TORCH_MODULE(MobileNetV2);

}  // namespace

void add_mobilenet_v2_backbones(Registry<BackboneBuilder>& registry) {
  registry.add("mobilenet_v2", [](const BackboneOptions& o) { return MobileNetV2("mobilenet_v2", o).ptr(); });
}

}  // namespace segkit
