#include "segkit/models/backbones/resnet.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/sequential.h>

#include <algorithm>

#include "segkit/core/errors.h"

namespace segkit {
namespace {

std::array<int64_t, 4> blocks_for_depth(int64_t depth) {
  switch (depth) {
    case 50: return {3, 4, 6, 3};
    case 101: return {3, 4, 23, 3};
    case 152: return {3, 8, 36, 3};
  }
  fail("unsupported ResNet depth ", depth, " (valid: 50, 101, 152)");
}

}  // namespace

BottleneckImpl::BottleneckImpl(int64_t in_channels, int64_t planes, int64_t stride, int64_t dilation, bool downsample)
    : has_downsample_(downsample) {
  const int64_t out_channels = planes * kExpansion;
  conv_bn1_ = ConvBn(*this, "conv1", "bn1", ConvSpec(in_channels, planes, 1));
  conv_bn2_ =
      ConvBn(*this, "conv2", "bn2", ConvSpec(planes, planes, 3).stride(stride).padding(dilation).dilation(dilation));
  conv_bn3_ = ConvBn(*this, "conv3", "bn3", ConvSpec(planes, out_channels, 1));
  if (downsample) {
    auto seq = register_module("downsample", torch::nn::Sequential());
    downsample_ = ConvBn(*seq, "0", "1", ConvSpec(in_channels, out_channels, 1).stride(stride));
  }
}

at::Tensor BottleneckImpl::forward(const at::Tensor& x) {
  at::Tensor out = activate(conv_bn1_(x), Activation::kReLU);
  out = activate(conv_bn2_(out), Activation::kReLU);
  out = conv_bn3_(out);
  const at::Tensor identity = has_downsample_ ? downsample_(x) : x;
  out = at::GradMode::is_enabled() ? out + identity : out.add_(identity);
  return activate(out, Activation::kReLU);
}

void BottleneckImpl::optimize_for_inference(const InferenceOptions& options) {
  conv_bn1_.fold(options);
  conv_bn2_.fold(options);
  conv_bn3_.fold(options);
  if (has_downsample_) downsample_.fold(options);
}

ResNetImpl::ResNetImpl(const ResNetOptions& options_) : options(options_) {
  const auto blocks = blocks_for_depth(options.depth());
  stem_ = ConvBn(*this, "conv1", "bn1", ConvSpec(3, 64, 7).stride(2).padding(3));
  shapes_["stem"] = {64, 4};

  int64_t in_channels = 64;
  int64_t dilation = 1;
  int64_t stride_so_far = 4;
  for (int i = 0; i < 4; ++i) {
    const int64_t planes = int64_t{64} << i;
    int64_t stride = i == 0 ? 1 : 2;
    const int64_t previous_dilation = dilation;
    if (i > 0 && options.replace_stride_with_dilation()[i - 1]) {
      dilation *= stride;
      stride = 1;
    }
    torch::nn::Sequential layer;
    const bool downsample = stride != 1 || in_channels != planes * BottleneckImpl::kExpansion;
    layer->push_back(Bottleneck(in_channels, planes, stride, previous_dilation, downsample));
    in_channels = planes * BottleneckImpl::kExpansion;
    for (int64_t b = 1; b < blocks[i]; ++b) layer->push_back(Bottleneck(in_channels, planes, 1, dilation, false));
    const std::string name = "layer" + std::to_string(i + 1);
    layers_[i] = register_module(name, layer);
    stride_so_far *= stride;
    shapes_[name] = {in_channels, stride_so_far};
  }
  check_out_features(options.out_features(), shapes_, "resnet" + std::to_string(options.depth()));
  for (const auto& name : options.out_features()) {
    if (name != "stem") last_layer_ = std::max(last_layer_, name.back() - '0');
  }
}

FeatureMap ResNetImpl::forward(const at::Tensor& x) {
  const auto& wanted = options.out_features();
  auto keep = [&](const std::string& name) { return std::find(wanted.begin(), wanted.end(), name) != wanted.end(); };
  FeatureMap features;
  at::Tensor out = stem_(x);
  out = at::max_pool2d(activate(out, Activation::kReLU), {3, 3}, {2, 2}, {1, 1});
  if (keep("stem")) features["stem"] = out;
  for (int i = 0; i < last_layer_; ++i) {
    out = layers_[i]->forward(out);
    const std::string name = "layer" + std::to_string(i + 1);
    if (keep(name)) features[name] = out;
  }
  return features;
}

}  // namespace segkit
