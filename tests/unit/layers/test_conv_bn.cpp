#include "segkit/layers/conv_bn.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include "segkit/layers/aspp.h"
#include "segkit/layers/onednn_conv.h"
#include "segkit/models/backbones/resnet.h"

namespace segkit {
namespace {

void randomize_batch_norms(torch::nn::Module& module) {
  at::NoGradGuard no_grad;
  for (auto& item : module.named_buffers()) {
    if (item.key().find("running_mean") != std::string::npos) item.value().normal_(0, 0.5);
    if (item.key().find("running_var") != std::string::npos) item.value().uniform_(0.3, 2.0);
  }
  for (auto& p : module.parameters()) {
    if (p.dim() == 1) p.uniform_(-0.5, 1.5);
  }
}

struct FoldCase {
  int64_t in, out, kernel, stride, dilation, groups;
  Activation activation;
};

class FoldBatchNorm : public ::testing::TestWithParam<FoldCase> {};

TEST_P(FoldBatchNorm, MatchesConvThenBatchNorm) {
  const FoldCase c = GetParam();
  at::manual_seed(3);
  ConvNormAct block(ConvNormActOptions(c.in, c.out, c.kernel)
                        .stride(c.stride)
                        .dilation(c.dilation)
                        .groups(c.groups)
                        .activation(c.activation)
                        .bn_eps(1e-3));
  randomize_batch_norms(*block);
  block->eval();
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({2, c.in, 23, 17});
  const at::Tensor reference = block->forward(x);
  optimize_for_inference(*block);
  const at::Tensor folded = block->forward(x);
  ASSERT_EQ(folded.sizes(), reference.sizes());
  EXPECT_LT((folded - reference).abs().max().item<double>(), 1e-5 * (1 + reference.abs().max().item<double>()))
      << "in=" << c.in << " out=" << c.out << " k=" << c.kernel << " stride=" << c.stride << " dilation=" << c.dilation
      << " groups=" << c.groups;
}

INSTANTIATE_TEST_SUITE_P(Shapes, FoldBatchNorm,
                         ::testing::Values(FoldCase{3, 8, 3, 1, 1, 1, Activation::kReLU},
                                           FoldCase{4, 6, 1, 2, 1, 1, Activation::kNone},
                                           FoldCase{8, 8, 5, 2, 1, 8, Activation::kHardswish},
                                           FoldCase{6, 4, 3, 1, 3, 2, Activation::kReLU}));

TEST(ASPP, FoldingKeepsOutputsAndPoolingBroadcasts) {
  at::manual_seed(5);
  ASPP aspp(8, std::vector<int64_t>{2, 3}, 6);
  randomize_batch_norms(*aspp);
  aspp->eval();
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({1, 8, 9, 11});
  const at::Tensor reference = aspp->forward(x);
  EXPECT_EQ(reference.sizes(), (std::vector<int64_t>{1, 6, 9, 11}));
  optimize_for_inference(*aspp);
  EXPECT_TRUE(at::allclose(aspp->forward(x), reference, 1e-4, 1e-5));
}

TEST(ASPP, ModuleNamesMatchTorchvision) {
  ASPP aspp(8, std::vector<int64_t>{12, 24, 36});
  std::vector<std::string> names;
  for (const auto& p : aspp->named_parameters()) names.push_back(p.key());
  for (const char* name : {"convs.0.0.weight", "convs.3.1.bias", "convs.4.1.weight", "convs.4.2.weight",
                           "project.0.weight", "project.1.bias"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

// A transposed convolution whose stride equals its kernel, as one matrix product: the same
// outputs and gradients (input, weight, bias) as LibTorch's own, for odd sizes, kernels that are
// not square, NCHW and channels-last input; transposed_conv takes that path for such modules and
// LibTorch's for the others.
TEST(TransposedConv, TiledAsMatrixProductMatchesLibTorch) {
  at::manual_seed(5);
  for (const auto& [kh, kw] : {std::pair<int64_t, int64_t>{2, 2}, {3, 2}}) {
    for (const bool channels_last : {false, true}) {
      for (const bool bias : {true, false}) {
        SCOPED_TRACE(std::to_string(kh) + "x" + std::to_string(kw) + (channels_last ? " channels-last" : " NCHW") +
                     (bias ? " bias" : " no bias"));
        at::Tensor x = at::randn({3, 5, 7, 9});
        if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
        x.requires_grad_(true);
        const at::Tensor w = at::randn({5, 4, kh, kw}).requires_grad_(true);
        const at::Tensor b = bias ? at::randn({4}).requires_grad_(true) : at::Tensor();
        const at::Tensor expected = at::conv_transpose2d(x, w, b, {kh, kw});
        const at::Tensor actual = tiled_transposed_conv(x, w, b);
        ASSERT_EQ(actual.sizes(), expected.sizes());
        EXPECT_TRUE(at::allclose(actual, expected, 1e-5, 1e-5));
        const at::Tensor g = at::randn_like(expected);
        std::vector<at::Tensor> inputs{x, w};
        if (bias) inputs.push_back(b);
        const auto expected_grads = torch::autograd::grad({expected}, inputs, {g});
        const auto actual_grads = torch::autograd::grad({actual}, inputs, {g});
        for (size_t i = 0; i < inputs.size(); ++i) {
          EXPECT_TRUE(at::allclose(actual_grads[i], expected_grads[i], 1e-4, 1e-4)) << "gradient " << i;
        }
      }
    }
  }
  torch::nn::ConvTranspose2d tiled(torch::nn::ConvTranspose2dOptions(5, 4, 2).stride(2));
  torch::nn::ConvTranspose2d overlapping(torch::nn::ConvTranspose2dOptions(5, 4, 3).stride(2).padding(1));
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({2, 5, 6, 7});
  for (auto* conv : {tiled.get(), overlapping.get()}) {
    EXPECT_TRUE(at::allclose(transposed_conv(*conv, x), conv->forward(x), 1e-5, 1e-5));
  }
  // The tiled path is the matrix product's: its result is channels-last (LibTorch's is not).
  EXPECT_TRUE(transposed_conv(*tiled, x).is_contiguous(at::MemoryFormat::ChannelsLast));
}

// Past a stage's first block, a ResNet block's input is the block before's output, which
// nothing else holds: rewritten for inference, forward_over_input writes the result over it
// (no copy of the identity) and computes what forward does, which leaves its input as it was.
TEST(ResidualBlocks, WriteOverASpareInputOnly) {
  at::manual_seed(23);
  at::NoGradGuard no_grad;
  for (const bool bottleneck : {true, false}) {
    SCOPED_TRACE(bottleneck ? "Bottleneck" : "BasicBlock");
    const ResNetOptions options(bottleneck ? ResidualBlock::kBottleneck : ResidualBlock::kBasic, {2, 2, 2, 2});
    const int64_t channels = bottleneck ? 64 : 16;  // in as out: no downsample
    const ResidualBlockSpec spec{channels, 16, 1, 1, false};
    const std::shared_ptr<torch::nn::Module> block =
        bottleneck ? std::static_pointer_cast<torch::nn::Module>(Bottleneck(spec, options).ptr())
                   : std::static_pointer_cast<torch::nn::Module>(BasicBlock(spec, options).ptr());
    randomize_batch_norms(*block);
    block->eval();
    const auto forward = [&](const at::Tensor& x, bool over_input) {
      if (auto b = std::dynamic_pointer_cast<BottleneckImpl>(block)) {
        return over_input ? b->forward_over_input(x) : b->forward(x);
      }
      auto b = std::dynamic_pointer_cast<BasicBlockImpl>(block);
      return over_input ? b->forward_over_input(x) : b->forward(x);
    };
    const at::Tensor x = at::randn({2, channels, 19, 23}).contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor reference = forward(x, false);  // unrewritten: LibTorch's modules
    InferenceOptions rewrite;
    rewrite.channels_last = true;
    rewrite.onednn = true;
    std::dynamic_pointer_cast<InferenceOptimizable>(block)->optimize_for_inference(rewrite);
    const at::Tensor kept = x.clone();
    const at::Tensor expected = forward(x, false);
    EXPECT_TRUE(x.equal(kept)) << "forward leaves its input as it was";
    EXPECT_LT((expected - reference).abs().max().item<double>(), 1e-4 * (1 + reference.abs().max().item<double>()));
    at::Tensor spare = x.clone(at::MemoryFormat::ChannelsLast);
    const at::Tensor got = forward(spare, true);
    EXPECT_TRUE(got.equal(expected));
    if (OneDnnConv::available()) {
      EXPECT_EQ(got.data_ptr(), spare.data_ptr()) << "the result over its input";
    }
  }
}

}  // namespace
}  // namespace segkit
