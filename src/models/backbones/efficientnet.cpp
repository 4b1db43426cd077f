#include "segkit/models/backbones/efficientnet.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/sequential.h>

#include <cmath>

#include "segkit/layers/conv_bn.h"
#include "segkit/layers/squeeze_excitation.h"
#include "segkit/layers/stochastic_depth.h"
#include "segkit/models/backbones/mobilenet_v3.h"

namespace segkit {
namespace {

struct Scaling {
  double width, depth, bn_eps, bn_momentum;
};

struct MBConvConfig {
  int64_t expand_ratio, kernel, stride, in_channels, out_channels;
  double stochastic_depth;
  double bn_eps, bn_momentum;
};

/// torchvision's MBConv: "block" holds the optional 1x1 expansion, the depthwise
/// convolution, squeeze-and-excitation and the 1x1 projection (all SiLU but the last).
class MBConvImpl : public torch::nn::Module {
 public:
  explicit MBConvImpl(const MBConvConfig& c)
      : use_residual_(c.stride == 1 && c.in_channels == c.out_channels), stochastic_depth_(c.stochastic_depth) {
    const int64_t expanded = make_divisible(static_cast<double>(c.in_channels * c.expand_ratio));
    torch::nn::Sequential block;
    if (expanded != c.in_channels) {
      block->push_back(ConvNormAct(ConvNormActOptions(c.in_channels, expanded, 1)
                                       .activation(Activation::kSiLU)
                                       .bn_eps(c.bn_eps)
                                       .bn_momentum(c.bn_momentum)));
    }
    block->push_back(ConvNormAct(ConvNormActOptions(expanded, expanded, c.kernel)
                                     .stride(c.stride)
                                     .groups(expanded)
                                     .activation(Activation::kSiLU)
                                     .bn_eps(c.bn_eps)
                                     .bn_momentum(c.bn_momentum)));
    block->push_back(SqueezeExcitation(
        SqueezeExcitationOptions(expanded, std::max<int64_t>(1, c.in_channels / 4)).activation(Activation::kSiLU)));
    block->push_back(ConvNormAct(ConvNormActOptions(expanded, c.out_channels, 1)
                                     .activation(Activation::kNone)
                                     .bn_eps(c.bn_eps)
                                     .bn_momentum(c.bn_momentum)));
    block_ = register_module("block", block);
  }

  at::Tensor forward(const at::Tensor& x) {
    at::Tensor out = block_->forward(x);
    if (!use_residual_) return out;
    out = stochastic_depth(out, stochastic_depth_, is_training());
    return at::GradMode::is_enabled() ? out + x : out.add_(x);
  }

 private:
  torch::nn::Sequential block_{nullptr};
  bool use_residual_;
  double stochastic_depth_;
};
TORCH_MODULE(MBConv);

class EfficientNetImpl : public BackboneImpl {
 public:
  EfficientNetImpl(std::string name, const Scaling& scaling, const BackboneOptions& options)
      : BackboneImpl(std::move(name)) {
    dilate_last_stages(options.output_stride(), 0, this->name());  // torchvision never dilates it
    constexpr double kStochasticDepth = 0.2;
    // expand ratio, kernel, stride, in, out, blocks (before scaling): the B0 table.
    const int64_t table[7][6] = {{1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},  {6, 5, 2, 24, 40, 2},
                                 {6, 3, 2, 40, 80, 3},  {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4},
                                 {6, 3, 1, 192, 320, 1}};
    const auto width = [&](int64_t c) { return make_divisible(c * scaling.width); };
    const auto depth = [&](int64_t n) { return static_cast<int64_t>(std::ceil(n * scaling.depth)); };
    int64_t total_blocks = 0;
    for (const auto& row : table) total_blocks += depth(row[5]);

    auto add = [this](auto module, int64_t channels, int64_t stride) {
      const std::string stage = std::to_string(stage_names().size());
      register_module(stage, module);
      add_stage(stage, [m = module](const at::Tensor& x) mutable { return m->forward(x); }, {channels, stride});
    };
    int64_t stride = 2;
    const int64_t stem = width(table[0][3]);
    add(ConvNormAct(ConvNormActOptions(3, stem, 3)
                        .stride(2)
                        .activation(Activation::kSiLU)
                        .bn_eps(scaling.bn_eps)
                        .bn_momentum(scaling.bn_momentum)),
        stem, stride);
    int64_t block_id = 0;
    int64_t channels = stem;
    for (const auto& [expand, kernel, s, in, out, blocks] : table) {
      torch::nn::Sequential stage;
      for (int64_t i = 0; i < depth(blocks); ++i) {
        const double p = kStochasticDepth * static_cast<double>(block_id++) / static_cast<double>(total_blocks);
        stage->push_back(MBConv(MBConvConfig{expand, kernel, i == 0 ? s : 1, i == 0 ? width(in) : width(out),
                                             width(out), p, scaling.bn_eps, scaling.bn_momentum}));
      }
      stride *= s;
      channels = width(out);
      add(stage, channels, stride);
    }
    add(ConvNormAct(ConvNormActOptions(channels, 4 * channels, 1)
                        .activation(Activation::kSiLU)
                        .bn_eps(scaling.bn_eps)
                        .bn_momentum(scaling.bn_momentum)),
        4 * channels, stride);
  }
};
TORCH_MODULE(EfficientNet);

}  // namespace

void add_efficientnet_backbones(Registry<BackboneBuilder>& registry) {
  // Width and depth multipliers per variant; B5-B7 use BatchNorm eps 1e-3 and momentum 0.01
  // (their weights were ported from TensorFlow).
  const std::vector<Scaling> variants = {{1.0, 1.0, 1e-5, 0.1},  {1.0, 1.1, 1e-5, 0.1}, {1.1, 1.2, 1e-5, 0.1},
                                         {1.2, 1.4, 1e-5, 0.1},  {1.4, 1.8, 1e-5, 0.1}, {1.6, 2.2, 1e-3, 0.01},
                                         {1.8, 2.6, 1e-3, 0.01}, {2.0, 3.1, 1e-3, 0.01}};
  for (size_t b = 0; b < variants.size(); ++b) {
    const std::string name = "efficientnet_b" + std::to_string(b);
    registry.add(
        name, [name, scaling = variants[b]](const BackboneOptions& o) { return EfficientNet(name, scaling, o).ptr(); });
  }
}

}  // namespace segkit
