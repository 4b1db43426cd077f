#include "segkit/models/necks/fpn.h"

#include <torch/nn/init.h>

#include <ATen/ATen.h>

#include "segkit/layers/conv_bn.h"

namespace segkit {
namespace {

// torchvision's Conv2dNormActivation without norm or activation: its weights are
// "<block>.0.weight". Kaiming-uniform (a = 1), zero bias.
ConvAct conv_block(int64_t in, int64_t out, int64_t kernel) {
  ConvAct block(ConvSpec(in, out, kernel).padding(kernel / 2), Activation::kNone);
  torch::nn::init::kaiming_uniform_(block->conv()->weight, /*a=*/1);
  torch::nn::init::zeros_(block->conv()->bias);
  return block;
}

}  // namespace

FeaturePyramidImpl::FeaturePyramidImpl(FeaturePyramidOptions options_) : options(std::move(options_)) {
  TORCH_CHECK(!options.in_channels().empty(), "FeaturePyramid: no input levels");
  for (const int64_t channels : options.in_channels()) {
    TORCH_CHECK(channels > 0, "FeaturePyramid: an input level of ", channels, " channels");
    inner_blocks_->push_back(conv_block(channels, options.out_channels(), 1));
    layer_blocks_->push_back(conv_block(options.out_channels(), options.out_channels(), 3));
  }
  register_module("inner_blocks", inner_blocks_);
  register_module("layer_blocks", layer_blocks_);
}

std::vector<at::Tensor> FeaturePyramidImpl::forward(const std::vector<at::Tensor>& features) {
  const size_t levels = options.in_channels().size();
  TORCH_CHECK(features.size() == levels, "FeaturePyramid: ", features.size(), " feature maps for ", levels, " levels");
  std::vector<at::Tensor> outputs(levels);
  at::Tensor top_down = inner_blocks_[levels - 1]->as<ConvActImpl>()->forward(features[levels - 1]);
  outputs[levels - 1] = layer_blocks_[levels - 1]->as<ConvActImpl>()->forward(top_down);
  for (size_t level = levels - 1; level-- > 0;) {
    const at::Tensor lateral = inner_blocks_[level]->as<ConvActImpl>()->forward(features[level]);
    top_down = lateral + at::upsample_nearest2d(top_down, {lateral.size(2), lateral.size(3)});
    outputs[level] = layer_blocks_[level]->as<ConvActImpl>()->forward(top_down);
  }
  if (options.extra_max_pool()) {
    outputs.push_back(at::max_pool2d(outputs.back(), /*kernel_size=*/{1, 1}, /*stride=*/{2, 2}));
  }
  return outputs;
}

std::vector<std::string> FeaturePyramidImpl::output_names() const {
  std::vector<std::string> names;
  for (size_t level = 0; level < options.in_channels().size(); ++level) names.push_back(std::to_string(level));
  if (options.extra_max_pool()) names.push_back("pool");
  return names;
}

}  // namespace segkit
