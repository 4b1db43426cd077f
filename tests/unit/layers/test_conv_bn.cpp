#include "segkit/layers/conv_bn.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "segkit/layers/aspp.h"

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

}  // namespace
}  // namespace segkit
