#include "segkit/models/backbones/resnet.h"

#include <ATen/ATen.h>

#include "segkit/core/errors.h"

namespace segkit {
namespace {

SqueezeExcitation make_se(torch::nn::Module& block, int64_t channels, int64_t reduction) {
  if (reduction <= 0) return SqueezeExcitation(nullptr);
  return block.register_module("se", SqueezeExcitation(SqueezeExcitationOptions(channels, channels / reduction)));
}

ConvBn make_downsample(torch::nn::Module& block, const ResidualBlockSpec& s, int64_t out_channels) {
  if (!s.downsample) return {};
  auto seq = block.register_module("downsample", torch::nn::Sequential());
  return ConvBn(*seq, "0", "1", ConvSpec(s.in_channels, out_channels, 1).stride(s.stride));
}

// The end of a block with squeeze-excitation: it, the identity added, ReLU. (Without, the last
// convolution adds the identity and applies the ReLU itself: ConvBn's residual.)
at::Tensor finish_block(at::Tensor out, const at::Tensor& identity, SqueezeExcitation& se) {
  if (se) out = se->forward(out);
  return add_then_activate(out, identity, Activation::kReLU);
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(const ResidualBlockSpec& s, const ResNetOptions& o) : has_downsample_(s.downsample) {
  if (o.groups() != 1 || o.width_per_group() != 64) fail("BasicBlock supports only groups=1 and base width 64");
  if (s.dilation > 1) fail("BasicBlock does not support dilation (output stride 32 only, as torchvision)");
  conv_bn1_ = ConvBn(*this, "conv1", "bn1", ConvSpec(s.in_channels, s.planes, 3).stride(s.stride).padding(1));
  conv_bn2_ = ConvBn(*this, "conv2", "bn2", ConvSpec(s.planes, s.planes, 3).padding(1));
  se_ = make_se(*this, s.planes, o.se_reduction());
  downsample_ = make_downsample(*this, s, s.planes * kExpansion);
}

at::Tensor BasicBlockImpl::forward(const at::Tensor& x) { return run(x, false); }

at::Tensor BasicBlockImpl::forward_over_input(const at::Tensor& x) { return run(x, true); }

at::Tensor BasicBlockImpl::run(const at::Tensor& x, bool input_spare) {
  const at::Tensor out = conv_bn1_(x, Activation::kReLU);
  const at::Tensor identity = has_downsample_ ? downsample_(x) : x;
  // The result goes over the identity where nothing else holds it: the downsample's, a spare input.
  if (!se_) return conv_bn2_(out, Activation::kReLU, identity, /*overwrite_residual=*/has_downsample_ || input_spare);
  return finish_block(conv_bn2_(out), identity, se_);
}

void BasicBlockImpl::optimize_for_inference(const InferenceOptions& options) {
  conv_bn1_.fold(options);
  conv_bn2_.fold(options);
  if (has_downsample_) downsample_.fold(options);
}

BottleneckImpl::BottleneckImpl(const ResidualBlockSpec& s, const ResNetOptions& o) : has_downsample_(s.downsample) {
  const int64_t width = static_cast<int64_t>(s.planes * (o.width_per_group() / 64.0)) * o.groups();
  const int64_t out_channels = s.planes * kExpansion;
  conv_bn1_ = ConvBn(*this, "conv1", "bn1", ConvSpec(s.in_channels, width, 1));
  conv_bn2_ =
      ConvBn(*this, "conv2", "bn2",
             ConvSpec(width, width, 3).stride(s.stride).padding(s.dilation).dilation(s.dilation).groups(o.groups()));
  conv_bn3_ = ConvBn(*this, "conv3", "bn3", ConvSpec(width, out_channels, 1));
  se_ = make_se(*this, out_channels, o.se_reduction());
  downsample_ = make_downsample(*this, s, out_channels);
}

at::Tensor BottleneckImpl::forward(const at::Tensor& x) { return run(x, false); }

at::Tensor BottleneckImpl::forward_over_input(const at::Tensor& x) { return run(x, true); }

at::Tensor BottleneckImpl::run(const at::Tensor& x, bool input_spare) {
  at::Tensor out = conv_bn1_(x, Activation::kReLU);
  out = conv_bn2_(out, Activation::kReLU);
  const at::Tensor identity = has_downsample_ ? downsample_(x) : x;
  if (!se_) return conv_bn3_(out, Activation::kReLU, identity, /*overwrite_residual=*/has_downsample_ || input_spare);
  return finish_block(conv_bn3_(out), identity, se_);
}

void BottleneckImpl::optimize_for_inference(const InferenceOptions& options) {
  conv_bn1_.fold(options);
  conv_bn2_.fold(options);
  conv_bn3_.fold(options);
  if (has_downsample_) downsample_.fold(options);
}

ResNetImpl::ResNetImpl(std::string name, const ResNetOptions& options_)
    : BackboneImpl(std::move(name)), options(options_) {
  const bool bottleneck = options.block() == ResidualBlock::kBottleneck;
  const int64_t expansion = bottleneck ? BottleneckImpl::kExpansion : BasicBlockImpl::kExpansion;
  const auto dilate = dilate_last_stages(options.output_stride(), 3, this->name());

  stem_ = ConvBn(*this, "conv1", "bn1", ConvSpec(3, 64, 7).stride(2).padding(3));
  add_stage("relu", [this](const at::Tensor& x) { return stem_(x, Activation::kReLU); }, {64, 2});
  add_stage("maxpool", [](const at::Tensor& x) { return at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1}); }, {64, 4});

  int64_t in_channels = 64;
  int64_t dilation = 1;
  int64_t stride_so_far = 4;
  for (int i = 0; i < 4; ++i) {
    const int64_t planes = int64_t{64} << i;
    int64_t stride = i == 0 ? 1 : 2;
    const int64_t previous_dilation = dilation;
    if (i > 0 && dilate[static_cast<size_t>(i - 1)]) {
      dilation *= stride;
      stride = 1;
    }
    torch::nn::Sequential layer;
    for (int64_t b = 0; b < options.layers()[static_cast<size_t>(i)]; ++b) {
      const ResidualBlockSpec spec{in_channels, planes, b == 0 ? stride : 1, b == 0 ? previous_dilation : dilation,
                                   b == 0 && (stride != 1 || in_channels != planes * expansion)};
      if (bottleneck)
        layer->push_back(Bottleneck(spec, options));
      else
        layer->push_back(BasicBlock(spec, options));
      in_channels = planes * expansion;
    }
    const std::string stage = "layer" + std::to_string(i + 1);
    register_module(stage, layer);
    stride_so_far *= stride;
    // Each block after a stage's first takes the output of the one before, which nothing else
    // holds: its result may go over it (forward_over_input).
    const auto run_stage = [layer, bottleneck](const at::Tensor& x) {
      at::Tensor out = x;
      for (size_t b = 0; b < layer->size(); ++b) {
        if (bottleneck) {
          const auto block = layer->ptr<BottleneckImpl>(b);
          out = b == 0 ? block->forward(out) : block->forward_over_input(out);
        } else {
          const auto block = layer->ptr<BasicBlockImpl>(b);
          out = b == 0 ? block->forward(out) : block->forward_over_input(out);
        }
      }
      return out;
    };
    add_stage(stage, run_stage, {in_channels, stride_so_far});
  }
}

void add_resnet_backbones(Registry<BackboneBuilder>& registry) {
  using R = ResidualBlock;
  const auto add = [&](const std::string& name, ResNetOptions options) {
    registry.add(name, [name, options](const BackboneOptions& o) {
      return ResNet(name, ResNetOptions(options).output_stride(o.output_stride())).ptr();
    });
  };
  add("resnet18", ResNetOptions(R::kBasic, {2, 2, 2, 2}));
  add("resnet34", ResNetOptions(R::kBasic, {3, 4, 6, 3}));
  add("resnet50", ResNetOptions(R::kBottleneck, {3, 4, 6, 3}));
  add("resnet101", ResNetOptions(R::kBottleneck, {3, 4, 23, 3}));
  add("resnet152", ResNetOptions(R::kBottleneck, {3, 8, 36, 3}));
  add("resnext50_32x4d", ResNetOptions(R::kBottleneck, {3, 4, 6, 3}).groups(32).width_per_group(4));
  add("wide_resnet50_2", ResNetOptions(R::kBottleneck, {3, 4, 6, 3}).width_per_group(128));
  add("se_resnet50", ResNetOptions(R::kBottleneck, {3, 4, 6, 3}).se_reduction(16));
}

}  // namespace segkit
