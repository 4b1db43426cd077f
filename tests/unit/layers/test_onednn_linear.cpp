#include "segkit/layers/onednn_linear.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "segkit/layers/onednn_conv.h"
#include "test_util.h"

namespace segkit {
namespace {

// activation(x W^T + b) against LibTorch's linear, in float32 and in bfloat16 (against float32
// on the same bf16-rounded data and weights: the result's own rounding, 2^-8, is what differs).
TEST(OneDnnLinear, MatchesLibTorch) {
  if (!OneDnnConv::available()) GTEST_SKIP() << "built without oneDNN";
  at::manual_seed(21);
  at::NoGradGuard no_grad;
  const int64_t in = 301, out = 77;  // odd sizes: no kernel's block divides them
  const at::Tensor weight = at::randn({out, in}) * 0.1, bias = at::randn({out});
  const auto round = [](const at::Tensor& t) { return t.to(at::kBFloat16).to(at::kFloat); };
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    const bool half = dtype == at::kBFloat16;
    at::Tensor held = weight.clone();
    const OneDnnLinear linear(held, bias, dtype);
    held.set_data(at::empty({0}));  // as the inference rewrite releases the module's copy
    for (const Activation activation :
         {Activation::kNone, Activation::kReLU, Activation::kHardswish, Activation::kHardsigmoid}) {
      for (const int64_t batch : {1, 3, 1}) {  // the last reuses the first one's kernel
        const at::Tensor x = at::randn({batch, in});
        const at::Tensor expected =
            activate(at::linear(half ? round(x) : x, half ? round(weight) : weight, bias), activation);
        const at::Tensor got = linear(x.to(dtype), activation);
        ASSERT_EQ(got.scalar_type(), dtype);
        ASSERT_EQ(got.sizes(), expected.sizes());
        const double scale = 1 + expected.abs().max().item<double>();
        EXPECT_LT((got.to(at::kFloat) - expected).abs().max().item<double>(), (half ? 8e-3 : 1e-5) * scale)
            << "activation " << static_cast<int>(activation) << " batch " << batch;
      }
    }
    // A column slice of a wider batch (not contiguous), and no bias.
    const at::Tensor wide = at::randn({2, in + 4}).to(dtype);
    const OneDnnLinear no_bias(weight, at::Tensor(), dtype);
    const at::Tensor expected = at::linear(wide.narrow(1, 2, in).to(at::kFloat), half ? round(weight) : weight);
    EXPECT_LT((no_bias(wide.narrow(1, 2, in), Activation::kNone).to(at::kFloat) - expected).abs().max().item<double>(),
              (half ? 8e-3 : 1e-5) * (1 + expected.abs().max().item<double>()));
  }
}

TEST(OneDnnLinear, RunsOnSeveralThreadsAtOnce) {
  if (!OneDnnConv::available()) GTEST_SKIP() << "built without oneDNN";
  at::manual_seed(22);
  at::NoGradGuard no_grad;
  const OneDnnLinear linear(at::randn({64, 512}), at::randn({64}), at::kBFloat16);
  std::vector<at::Tensor> inputs, expected;
  for (int k = 0; k < 4; ++k) {
    inputs.push_back(at::randn({1 + k, 512}).to(at::kBFloat16));
    expected.push_back(linear(inputs.back(), Activation::kReLU));
  }
  EXPECT_EQ(testing::concurrent_mismatches(expected, [&](size_t k) { return linear(inputs[k], Activation::kReLU); }),
            0);
}

TEST(OneDnnLinear, RefusesWhatItCannotRun) {
  if (!OneDnnConv::available()) GTEST_SKIP() << "built without oneDNN";
  at::NoGradGuard no_grad;
  EXPECT_THROW(OneDnnLinear(at::randn({4, 3, 1, 1}), at::Tensor(), at::kFloat), std::invalid_argument) << "not 2-D";
  EXPECT_THROW(OneDnnLinear(at::randn({4, 3}), at::Tensor(), at::kDouble), std::invalid_argument) << "dtype";
  const OneDnnLinear linear(at::randn({4, 3}), at::randn({4}), at::kFloat);
  EXPECT_THROW(linear(at::randn({2, 5}), Activation::kNone), std::invalid_argument) << "features";
  EXPECT_THROW(linear(at::randn({2, 3}, at::kDouble), Activation::kNone), std::invalid_argument) << "dtype";
  EXPECT_THROW(linear(at::randn({2, 3}).to(at::kBFloat16), Activation::kNone), std::invalid_argument) << "type";
  EXPECT_THROW(linear(at::randn({2, 3, 1, 1}), Activation::kNone), std::invalid_argument) << "not 2-D";
  EXPECT_EQ(linear(at::randn({0, 3}), Activation::kNone).sizes(), (std::vector<int64_t>{0, 4}));
}

}  // namespace
}  // namespace segkit
