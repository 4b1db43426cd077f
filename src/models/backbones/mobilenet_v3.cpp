#include "segkit/models/backbones/mobilenet_v3.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/sequential.h>

#include <algorithm>

namespace segkit {
namespace {

constexpr double kBnEps = 0.001;

int64_t make_divisible(double v, int64_t divisor = 8) {
  int64_t new_v = std::max(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (new_v < 0.9 * v) new_v += divisor;
  return new_v;
}

std::vector<InvertedResidualConfig> large_config(bool dilated) {
  constexpr auto RE = Activation::kReLU;
  constexpr auto HS = Activation::kHardswish;
  const int64_t d = dilated ? 2 : 1;
  return {
      {16, 3, 16, 16, false, RE, 1, 1},   {16, 3, 64, 24, false, RE, 2, 1},   {24, 3, 72, 24, false, RE, 1, 1},
      {24, 5, 72, 40, true, RE, 2, 1},    {40, 5, 120, 40, true, RE, 1, 1},   {40, 5, 120, 40, true, RE, 1, 1},
      {40, 3, 240, 80, false, HS, 2, 1},  {80, 3, 200, 80, false, HS, 1, 1},  {80, 3, 184, 80, false, HS, 1, 1},
      {80, 3, 184, 80, false, HS, 1, 1},  {80, 3, 480, 112, true, HS, 1, 1},  {112, 3, 672, 112, true, HS, 1, 1},
      {112, 5, 672, 160, true, HS, 2, d}, {160, 5, 960, 160, true, HS, 1, d}, {160, 5, 960, 160, true, HS, 1, d},
  };
}

}  // namespace

SqueezeExcitationImpl::SqueezeExcitationImpl(int64_t channels, int64_t squeeze_channels)
    : fc1_(register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, squeeze_channels, 1)))),
      fc2_(register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze_channels, channels, 1)))) {}

at::Tensor SqueezeExcitationImpl::forward(const at::Tensor& x) {
  at::Tensor scale = x.mean({2, 3}, /*keepdim=*/true);
  scale = at::hardsigmoid(fc2_->forward(fc1_->forward(scale).relu()));
  return x * scale;
}

InvertedResidualImpl::InvertedResidualImpl(const InvertedResidualConfig& c)
    : use_residual_(c.stride == 1 && c.in_channels == c.out_channels) {
  torch::nn::Sequential block;
  if (c.expanded_channels != c.in_channels) {
    block->push_back(
        ConvNormAct(ConvNormActOptions(c.in_channels, c.expanded_channels, 1).activation(c.activation).bn_eps(kBnEps)));
  }
  block->push_back(ConvNormAct(ConvNormActOptions(c.expanded_channels, c.expanded_channels, c.kernel)
                                   .stride(c.dilation > 1 ? 1 : c.stride)
                                   .dilation(c.dilation)
                                   .groups(c.expanded_channels)
                                   .activation(c.activation)
                                   .bn_eps(kBnEps)));
  if (c.use_se) block->push_back(SqueezeExcitation(c.expanded_channels, make_divisible(c.expanded_channels / 4)));
  block->push_back(ConvNormAct(
      ConvNormActOptions(c.expanded_channels, c.out_channels, 1).activation(Activation::kNone).bn_eps(kBnEps)));
  block_ = register_module("block", block);
}

at::Tensor InvertedResidualImpl::forward(const at::Tensor& x) {
  at::Tensor out = block_->forward(x);
  if (!use_residual_) return out;
  return at::GradMode::is_enabled() ? out + x : out.add_(x);
}

std::vector<int> mobilenet_v3_large_stage_indices() {
  const auto config = large_config(/*dilated=*/false);
  std::vector<int> indices{0};
  for (size_t i = 0; i < config.size(); ++i) {
    if (config[i].stride > 1) indices.push_back(static_cast<int>(i) + 1);
  }
  indices.push_back(static_cast<int>(config.size()) + 1);
  return indices;
}

MobileNetV3Impl::MobileNetV3Impl(const MobileNetV3Options& options_) : options(options_) {
  auto add = [this](auto module, int64_t channels, int64_t stride) {
    const std::string name = std::to_string(forwards_.size());
    register_module(name, module);
    forwards_.emplace_back([m = module](const at::Tensor& x) mutable { return m->forward(x); });
    shapes_[name] = {channels, stride};
  };
  int64_t stride = 2;
  add(ConvNormAct(ConvNormActOptions(3, 16, 3).stride(2).activation(Activation::kHardswish).bn_eps(kBnEps)), 16,
      stride);
  for (const auto& config : large_config(options.dilated())) {
    if (config.dilation == 1) stride *= config.stride;
    add(InvertedResidual(config), config.out_channels, stride);
  }
  constexpr int64_t kLastChannels = 6 * 160;
  add(ConvNormAct(ConvNormActOptions(160, kLastChannels, 1).activation(Activation::kHardswish).bn_eps(kBnEps)),
      kLastChannels, stride);

  check_out_features(options.out_features(), shapes_, "mobilenet_v3_large");
  for (const auto& name : options.out_features()) last_block_ = std::max(last_block_, std::stoi(name));
}

FeatureMap MobileNetV3Impl::forward(const at::Tensor& x) {
  const auto& wanted = options.out_features();
  FeatureMap features;
  at::Tensor out = x;
  for (int i = 0; i <= last_block_; ++i) {
    out = forwards_[i](out);
    const std::string name = std::to_string(i);
    if (std::find(wanted.begin(), wanted.end(), name) != wanted.end()) features[name] = out;
  }
  return features;
}

}  // namespace segkit
