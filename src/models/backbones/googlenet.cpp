#include "segkit/models/backbones/googlenet.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/sequential.h>

namespace segkit {
namespace {

at::Tensor max_pool_ceil(const at::Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0) {
  return at::max_pool2d(x, {kernel, kernel}, {stride, stride}, {padding, padding}, {1, 1}, /*ceil_mode=*/true);
}

/// branch1 (1x1), branch2 (1x1 then 3x3), branch3 (1x1 then 3x3), branch4 (3x3 max pool then 1x1), concatenated.
class InceptionImpl : public torch::nn::Module {
 public:
  InceptionImpl(int64_t in, int64_t ch1x1, int64_t ch3x3red, int64_t ch3x3, int64_t ch5x5red, int64_t ch5x5,
                int64_t pool_proj)
      : out_channels_(ch1x1 + ch3x3 + ch5x5 + pool_proj) {
    branch1_ = register_module("branch1", BasicConv2d(ConvSpec(in, ch1x1, 1)));
    auto reduce_then_3x3 = [&](const std::string& name, int64_t reduced, int64_t out) {
      auto seq = register_module(name, torch::nn::Sequential());
      return std::pair{seq->register_module("0", BasicConv2d(ConvSpec(in, reduced, 1))),
                       seq->register_module("1", BasicConv2d(ConvSpec(reduced, out, 3).padding(1)))};
    };
    branch2_ = reduce_then_3x3("branch2", ch3x3red, ch3x3);
    branch3_ = reduce_then_3x3("branch3", ch5x5red, ch5x5);
    branch4_ = register_module("branch4", torch::nn::Sequential())
                   ->register_module("1", BasicConv2d(ConvSpec(in, pool_proj, 1)));
  }

  int64_t out_channels() const { return out_channels_; }

  at::Tensor forward(const at::Tensor& x) {
    return at::cat({branch1_->forward(x), branch2_.second->forward(branch2_.first->forward(x)),
                    branch3_.second->forward(branch3_.first->forward(x)), branch4_->forward(max_pool_ceil(x, 3, 1, 1))},
                   1);
  }

 private:
  int64_t out_channels_;
  BasicConv2d branch1_{nullptr}, branch4_{nullptr};
  std::pair<BasicConv2d, BasicConv2d> branch2_{nullptr, nullptr}, branch3_{nullptr, nullptr};
};
TORCH_MODULE(Inception);

class GoogLeNetImpl : public BackboneImpl {
 public:
  GoogLeNetImpl(std::string name, const BackboneOptions& options) : BackboneImpl(std::move(name)) {
    dilate_last_stages(options.output_stride(), 0, this->name());  // torchvision never dilates it
    auto conv1 = register_module("conv1", BasicConv2d(ConvSpec(3, 64, 7).stride(2).padding(3)));
    add_stage("conv1", [conv1](const at::Tensor& x) mutable { return conv1->forward(transform_input(x)); }, {64, 2});
    add_pool("maxpool1", 3, 64, 4);
    auto conv2 = register_module("conv2", BasicConv2d(ConvSpec(64, 64, 1)));
    add_stage("conv2", [conv2](const at::Tensor& x) mutable { return conv2->forward(x); }, {64, 4});
    auto conv3 = register_module("conv3", BasicConv2d(ConvSpec(64, 192, 3).padding(1)));
    add_stage("conv3", [conv3](const at::Tensor& x) mutable { return conv3->forward(x); }, {192, 4});
    add_pool("maxpool2", 3, 192, 8);
    add_inception("inception3a", {192, 64, 96, 128, 16, 32, 32}, 8);
    add_inception("inception3b", {256, 128, 128, 192, 32, 96, 64}, 8);
    add_pool("maxpool3", 3, 480, 16);
    add_inception("inception4a", {480, 192, 96, 208, 16, 48, 64}, 16);
    add_inception("inception4b", {512, 160, 112, 224, 24, 64, 64}, 16);
    add_inception("inception4c", {512, 128, 128, 256, 24, 64, 64}, 16);
    add_inception("inception4d", {512, 112, 144, 288, 32, 64, 64}, 16);
    add_inception("inception4e", {528, 256, 160, 320, 32, 128, 128}, 16);
    add_pool("maxpool4", 2, 832, 32);
    add_inception("inception5a", {832, 256, 160, 320, 32, 128, 128}, 32);
    add_inception("inception5b", {832, 384, 192, 384, 48, 128, 128}, 32);
  }

 private:
  /// torchvision's transform_input: ImageNet normalization undone, then (x - 0.5) / 0.5.
  /// (at::tensor makes no bfloat16: the constants are made in float32 and converted.)
  static at::Tensor transform_input(const at::Tensor& x) {
    const at::TensorOptions made = x.options().dtype(at::kFloat);
    const at::Tensor scale =
        at::tensor({0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5}, made).to(x.scalar_type()).view({1, 3, 1, 1});
    const at::Tensor shift = at::tensor({(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5}, made)
                                 .to(x.scalar_type())
                                 .view({1, 3, 1, 1});
    return x * scale + shift;
  }

  void add_pool(const std::string& name, int64_t kernel, int64_t channels, int64_t stride) {
    add_stage(name, [kernel](const at::Tensor& x) { return max_pool_ceil(x, kernel, 2); }, {channels, stride});
  }

  void add_inception(const std::string& name, const std::array<int64_t, 7>& c, int64_t stride) {
    auto block = register_module(name, Inception(c[0], c[1], c[2], c[3], c[4], c[5], c[6]));
    add_stage(name, [block](const at::Tensor& x) mutable { return block->forward(x); },
              {block->out_channels(), stride});
  }
};
TORCH_MODULE(GoogLeNet);

}  // namespace

BasicConv2dImpl::BasicConv2dImpl(const ConvSpec& spec) {
  conv_bn_ = ConvBn(*this, "conv", "bn", spec, /*bn_eps=*/1e-3);
}

at::Tensor BasicConv2dImpl::forward(const at::Tensor& x) { return conv_bn_(x, Activation::kReLU); }

void add_googlenet_backbones(Registry<BackboneBuilder>& registry) {
  registry.add("googlenet", [](const BackboneOptions& o) { return GoogLeNet("googlenet", o).ptr(); });
}

}  // namespace segkit
