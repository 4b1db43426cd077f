#include "segkit/models/backbones/mobilenet_v3.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace segkit {
namespace {

constexpr double kBnEps = 0.001;
constexpr double kBnMomentum = 0.01;

std::vector<InvertedResidualConfig> table(MobileNetV3Size size, int64_t d) {
  constexpr auto RE = Activation::kReLU;
  constexpr auto HS = Activation::kHardswish;
  if (size == MobileNetV3Size::kLarge) {
    return {
        {16, 3, 16, 16, false, RE, 1, 1},   {16, 3, 64, 24, false, RE, 2, 1},   {24, 3, 72, 24, false, RE, 1, 1},
        {24, 5, 72, 40, true, RE, 2, 1},    {40, 5, 120, 40, true, RE, 1, 1},   {40, 5, 120, 40, true, RE, 1, 1},
        {40, 3, 240, 80, false, HS, 2, 1},  {80, 3, 200, 80, false, HS, 1, 1},  {80, 3, 184, 80, false, HS, 1, 1},
        {80, 3, 184, 80, false, HS, 1, 1},  {80, 3, 480, 112, true, HS, 1, 1},  {112, 3, 672, 112, true, HS, 1, 1},
        {112, 5, 672, 160, true, HS, 2, d}, {160, 5, 960, 160, true, HS, 1, d}, {160, 5, 960, 160, true, HS, 1, d},
    };
  }
  return {
      {16, 3, 16, 16, true, RE, 2, 1},  {16, 3, 72, 24, false, RE, 2, 1}, {24, 3, 88, 24, false, RE, 1, 1},
      {24, 5, 96, 40, true, HS, 2, 1},  {40, 5, 240, 40, true, HS, 1, 1}, {40, 5, 240, 40, true, HS, 1, 1},
      {40, 5, 120, 48, true, HS, 1, 1}, {48, 5, 144, 48, true, HS, 1, 1}, {48, 5, 288, 96, true, HS, 2, d},
      {96, 5, 576, 96, true, HS, 1, d}, {96, 5, 576, 96, true, HS, 1, d},
  };
}

}  // namespace

int64_t make_divisible(double v, int64_t divisor) {
  int64_t new_v = std::max(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (new_v < 0.9 * v) new_v += divisor;
  return new_v;
}

InvertedResidualImpl::InvertedResidualImpl(const InvertedResidualConfig& c)
    : use_residual_(c.stride == 1 && c.in_channels == c.out_channels) {
  torch::nn::Sequential block;
  if (c.expanded_channels != c.in_channels) {
    block->push_back(ConvNormAct(ConvNormActOptions(c.in_channels, c.expanded_channels, 1)
                                     .activation(c.activation)
                                     .bn_eps(kBnEps)
                                     .bn_momentum(kBnMomentum)));
  }
  block->push_back(ConvNormAct(ConvNormActOptions(c.expanded_channels, c.expanded_channels, c.kernel)
                                   .stride(c.dilation > 1 ? 1 : c.stride)
                                   .dilation(c.dilation)
                                   .groups(c.expanded_channels)
                                   .activation(c.activation)
                                   .bn_eps(kBnEps)
                                   .bn_momentum(kBnMomentum)));
  if (c.use_se) {
    block->push_back(SqueezeExcitation(
        SqueezeExcitationOptions(c.expanded_channels, make_divisible(static_cast<double>(c.expanded_channels / 4)))
            .gate(Activation::kHardsigmoid)));
  }
  block->push_back(ConvNormAct(ConvNormActOptions(c.expanded_channels, c.out_channels, 1)
                                   .activation(Activation::kNone)
                                   .bn_eps(kBnEps)
                                   .bn_momentum(kBnMomentum)));
  block_ = register_module("block", block);
}

at::Tensor InvertedResidualImpl::forward(const at::Tensor& x) {
  at::Tensor out = block_->forward(x);
  if (!use_residual_) return out;
  return at::GradMode::is_enabled() ? out + x : out.add_(x);
}

MobileNetV3Impl::MobileNetV3Impl(std::string name, MobileNetV3Size size, const BackboneOptions& options)
    : BackboneImpl(std::move(name)) {
  const bool dilated = dilate_last_stages(options.output_stride(), 1, this->name())[0];
  auto add = [this](auto module, int64_t channels, int64_t stride) {
    const std::string stage = std::to_string(stage_names().size());
    register_module(stage, module);
    add_stage(stage, [m = module](const at::Tensor& x) mutable { return m->forward(x); }, {channels, stride});
  };
  int64_t stride = 2;
  add(ConvNormAct(ConvNormActOptions(3, 16, 3)
                      .stride(2)
                      .activation(Activation::kHardswish)
                      .bn_eps(kBnEps)
                      .bn_momentum(kBnMomentum)),
      16, stride);
  const auto config = table(size, dilated ? 2 : 1);
  for (const auto& row : config) {
    if (row.dilation == 1) stride *= row.stride;
    add(InvertedResidual(row), row.out_channels, stride);
  }
  const int64_t last_in = config.back().out_channels;
  add(ConvNormAct(ConvNormActOptions(last_in, 6 * last_in, 1)
                      .activation(Activation::kHardswish)
                      .bn_eps(kBnEps)
                      .bn_momentum(kBnMomentum)),
      6 * last_in, stride);
}

void add_mobilenet_v3_backbones(Registry<BackboneBuilder>& registry) {
  for (const auto& [name, size] : {std::pair{"mobilenet_v3_large", MobileNetV3Size::kLarge},
                                   std::pair{"mobilenet_v3_small", MobileNetV3Size::kSmall}}) {
    registry.add(name, [name = std::string(name), size = size](const BackboneOptions& o) {
      return MobileNetV3(name, size, o).ptr();
    });
  }
}

}  // namespace segkit
