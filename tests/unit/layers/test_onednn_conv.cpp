#include "segkit/layers/onednn_conv.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace segkit {
namespace {

struct OneDnnCase {
  int64_t in, out, kernel, stride, padding, dilation, groups;
  int64_t height, width;
  Activation activation;
  bool winograd;  // the size and shape take the Winograd kernel

  OneDnnCase with_activation(Activation a) const {
    OneDnnCase c = *this;
    c.activation = a;
    return c;
  }
};

std::ostream& operator<<(std::ostream& os, const OneDnnCase& c) {
  return os << c.in << "->" << c.out << " k" << c.kernel << " s" << c.stride << " p" << c.padding << " d" << c.dilation
            << " g" << c.groups << " " << c.height << "x" << c.width << " act " << static_cast<int>(c.activation);
}

ConvSpec spec_of(const OneDnnCase& c) {
  return ConvSpec(c.in, c.out, c.kernel).stride(c.stride).padding(c.padding).dilation(c.dilation).groups(c.groups);
}

at::Tensor reference(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, const OneDnnCase& c) {
  return activate(
      at::conv2d(x, weight, bias, {c.stride, c.stride}, {c.padding, c.padding}, {c.dilation, c.dilation}, c.groups),
      c.activation);
}

class OneDnnConvMatchesLibTorch : public ::testing::TestWithParam<OneDnnCase> {};

TEST_P(OneDnnConvMatchesLibTorch, OnEveryInputLayoutAndSize) {
  const OneDnnCase c = GetParam();
  at::manual_seed(11);
  const at::Tensor weight = at::randn({c.out, c.in / c.groups, c.kernel, c.kernel}) * 0.2;
  const at::Tensor bias = at::randn({c.out});
  at::NoGradGuard no_grad;
  if (!OneDnnConv::available()) {  // built without it: the rewrite keeps LibTorch's convolution
    auto conv = torch::nn::Conv2d(spec_of(c).to_options());
    InferenceOptions options;
    options.onednn = true;
    EXPECT_EQ(FoldedConv::fold(spec_of(c), *conv, nullptr, options).onednn, nullptr);
    return;
  }
  OneDnnConv conv(weight.clone(), bias, spec_of(c));
  EXPECT_EQ(conv.winograd_tiling(2, c.height, c.width).images > 0, c.winograd) << c;
  // A wider tensor's channel slice: neither contiguous nor channels-last, as DenseNet feeds it.
  const at::Tensor wide = at::randn({2, c.in + 5, c.height, c.width}).contiguous(at::MemoryFormat::ChannelsLast);
  const std::vector<at::Tensor> inputs = {
      at::randn({2, c.in, c.height, c.width}),
      at::randn({1, c.in, c.height, c.width}).contiguous(at::MemoryFormat::ChannelsLast), wide.narrow(1, 3, c.in)};
  for (int pass = 0; pass < 2; ++pass) {  // the second pass reuses the kernels built by the first
    for (const at::Tensor& x : inputs) {
      const at::Tensor expected = reference(x, weight, bias, c);
      const at::Tensor got = conv(x, c.activation);
      ASSERT_EQ(got.sizes(), expected.sizes()) << c;
      EXPECT_TRUE(got.is_contiguous(at::MemoryFormat::ChannelsLast)) << c;
      const double scale = 1 + expected.abs().max().item<double>();
      EXPECT_LT((got - expected).abs().max().item<double>(), 1e-5 * scale) << c << " pass " << pass;
    }
  }
  // With a residual (a block's identity, NCHW here): activation(conv + residual), the sum and
  // the activation fused but for Winograd's kernel, and the residual left as it was.
  for (const at::Tensor& x : inputs) {
    const at::Tensor plain =
        at::conv2d(x, weight, bias, {c.stride, c.stride}, {c.padding, c.padding}, {c.dilation, c.dilation}, c.groups);
    const at::Tensor residual = at::randn(plain.sizes()), kept = residual.clone();
    const at::Tensor expected = activate(plain + residual, c.activation);
    const at::Tensor got = conv(x, c.activation, residual);
    ASSERT_EQ(got.sizes(), expected.sizes()) << c;
    const double scale = 1 + expected.abs().max().item<double>();
    EXPECT_LT((got - expected).abs().max().item<double>(), 1e-5 * scale) << c << " with a residual";
    EXPECT_TRUE(residual.equal(kept)) << c;
    // Allowed to, it writes over a channels-last residual instead of a copy of it.
    const at::Tensor owned = residual.contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor over = conv(x, c.activation, owned, /*overwrite_residual=*/true);
    EXPECT_LT((over - expected).abs().max().item<double>(), 1e-5 * scale) << c << " over its residual";
    if (!c.winograd) {
      EXPECT_EQ(over.data_ptr(), owned.data_ptr()) << c;
    }
    EXPECT_THROW(conv(x, c.activation, residual.narrow(1, 0, c.out - 1)), std::invalid_argument) << c;
  }
  // bfloat16: data and packed weights in bf16, float32 bias and accumulation. Against float32
  // on the same bf16-rounded data and weights, the result's own rounding (2^-8) is what differs.
  const auto round = [](const at::Tensor& t) { return t.to(at::kBFloat16).to(at::kFloat); };
  OneDnnConv half(weight.clone(), bias, spec_of(c), at::kBFloat16);
  EXPECT_EQ(half.winograd_tiling(2, c.height, c.width).images, 0) << "Winograd is float32's";
  for (const at::Tensor& x : inputs) {
    const at::Tensor expected = reference(round(x), round(weight), bias, c);
    const at::Tensor got = half(x.to(at::kBFloat16), c.activation);
    ASSERT_EQ(got.scalar_type(), at::kBFloat16);
    ASSERT_EQ(got.sizes(), expected.sizes()) << c;
    const double scale = 1 + expected.abs().max().item<double>();
    EXPECT_LT((got.to(at::kFloat) - expected).abs().max().item<double>(), 8e-3 * scale) << c << " bf16";
    // The residual summed in the kernel, before the one rounding to bf16.
    const at::Tensor residual = at::randn(expected.sizes()).to(at::kBFloat16);
    const at::Tensor plain = reference(round(x), round(weight), bias, c.with_activation(Activation::kNone));
    const at::Tensor with_residual = activate(plain + residual.to(at::kFloat), c.activation);
    const at::Tensor summed = half(x.to(at::kBFloat16), c.activation, residual);
    ASSERT_EQ(summed.scalar_type(), at::kBFloat16);
    EXPECT_LT((summed.to(at::kFloat) - with_residual).abs().max().item<double>(),
              8e-3 * (1 + with_residual.abs().max().item<double>()))
        << c << " bf16 with a residual";
  }
  EXPECT_THROW(half(inputs[0], c.activation), std::invalid_argument) << "float32 input to a bf16 convolution";
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, OneDnnConvMatchesLibTorch,
    ::testing::Values(OneDnnCase{64, 80, 3, 1, 1, 1, 1, 37, 41, Activation::kReLU, true},
                      OneDnnCase{64, 64, 3, 1, 0, 1, 1, 29, 33, Activation::kNone, true},
                      OneDnnCase{64, 80, 3, 1, 1, 1, 1, 19, 41, Activation::kReLU, false},        // too small for it
                      OneDnnCase{32, 48, 3, 1, 1, 1, 1, 37, 41, Activation::kReLU, false},        // too narrow
                      OneDnnCase{24, 40, 3, 2, 1, 1, 1, 31, 29, Activation::kReLU6, false},       // stride 2
                      OneDnnCase{16, 24, 3, 1, 2, 2, 1, 30, 30, Activation::kSiLU, false},        // dilated
                      OneDnnCase{32, 32, 5, 1, 2, 1, 32, 21, 17, Activation::kHardswish, false},  // depthwise
                      OneDnnCase{12, 18, 3, 1, 1, 1, 3, 13, 11, Activation::kSigmoid, false},     // grouped
                      OneDnnCase{40, 24, 1, 1, 0, 1, 1, 15, 9, Activation::kHardsigmoid, false},  // not fusable
                      OneDnnCase{3, 64, 7, 2, 3, 1, 1, 45, 39, Activation::kReLU, false}));       // a stem

TEST(OneDnnConv, WinogradTakesWholeImagesWithinItsBudget) {
  if (!OneDnnConv::available()) GTEST_SKIP() << "built without oneDNN";
  at::manual_seed(12);
  const at::Tensor weight = at::randn({64, 64, 3, 3}) * 0.1, bias = at::randn({64});
  OneDnnConv conv(weight.clone(), bias, ConvSpec(64, 64, 3).padding(1));
  const auto images = [&](int64_t batch, int64_t height, int64_t width) {
    const OneDnnConv::Tiling tiling = conv.winograd_tiling(batch, height, width);
    EXPECT_EQ(tiling.rows, 0) << "whole images";
    return tiling.images;
  };
  // 64 + 64 channels of 4 bytes: 56 x 56 is 1.5 MiB an image, 224 x 224 24.5 MiB (over 16).
  EXPECT_EQ(images(8, 56, 56), 8);
  EXPECT_EQ(images(24, 56, 56), 8) << "a divisor of the batch: one weight layout";
  EXPECT_EQ(images(11, 56, 56), 1) << "a prime batch";
  // 5.25 MiB an image: four images take two calls of two, each on its own slice of the batch.
  ASSERT_EQ(images(4, 112, 96), 2);
  at::NoGradGuard no_grad;
  const at::Tensor x = at::randn({4, 64, 112, 96});
  const at::Tensor expected = at::conv2d(x, weight, bias, 1, 1).relu();
  EXPECT_LT((conv(x, Activation::kReLU) - expected).abs().max().item<double>(),
            1e-5 * (1 + expected.abs().max().item<double>()));
}

// An image over the budget goes in strips of rows, each with the rows around it it needs (or
// the padding, at the image's top and bottom); the last strip moves up to end with the image.
TEST(OneDnnConv, WinogradTakesStripsOfALargeImage) {
  if (!OneDnnConv::available()) GTEST_SKIP() << "built without oneDNN";
  at::manual_seed(14);
  at::NoGradGuard no_grad;
  const at::Tensor weight = at::randn({64, 64, 3, 3}) * 0.05, bias = at::randn({64});
  // 64 + 64 channels of 4 bytes: 181 wide is 90.5 KiB a row, 185 rows 16.4 MiB (over 16);
  // strips of 4 MiB are 44 rows (a multiple of 4).
  for (const int64_t padding : {0, 1}) {
    SCOPED_TRACE("padding " + std::to_string(padding));
    const OneDnnConv conv(weight.clone(), bias, ConvSpec(64, 64, 3).padding(padding));
    const OneDnnConv::Tiling tiling = conv.winograd_tiling(2, 185, 181);
    EXPECT_EQ(tiling.images, 1);
    EXPECT_EQ(tiling.rows, 44);
    const at::Tensor x = at::randn({2, 64, 185, 181});
    const at::Tensor plain = at::conv2d(x, weight, bias, 1, padding);
    const double scale = 1 + plain.abs().max().item<double>();
    const at::Tensor got = conv(x, Activation::kReLU);
    ASSERT_EQ(got.sizes(), plain.sizes());
    EXPECT_LT((got - plain.relu()).abs().max().item<double>(), 1e-5 * scale);
    const at::Tensor residual = at::randn(plain.sizes());
    const at::Tensor summed = conv(x, Activation::kReLU, residual);
    EXPECT_LT((summed - (plain + residual).relu()).abs().max().item<double>(), 1e-5 * (scale + 5));
  }
}

// Kernels made on this thread, then run by four others at once: oneDNN 2 ties a kernel to the
// thread that made it unless each run brings its own scratch memory (Winograd's most of all).
TEST(OneDnnConv, RunsOnSeveralThreadsAtOnce) {
  if (!OneDnnConv::available()) GTEST_SKIP() << "built without oneDNN";
  at::manual_seed(13);
  at::NoGradGuard no_grad;
  const at::Tensor weight = at::randn({64, 64, 3, 3}) * 0.1, bias = at::randn({64});
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    const OneDnnConv conv(weight.clone(), bias, ConvSpec(64, 64, 3).padding(1), dtype);
    if (dtype == at::kFloat) {
      ASSERT_EQ(conv.winograd_tiling(1, 56, 56).images, 1) << "Winograd's kernel among them";
    }
    std::vector<at::Tensor> inputs, expected;
    for (int k = 0; k < 4; ++k) {
      inputs.push_back(at::randn({1 + k % 2, 64, 56, 44 + 6 * k}).to(dtype));
      expected.push_back(conv(inputs.back(), Activation::kReLU));
    }
    EXPECT_EQ(testing::concurrent_mismatches(expected, [&](size_t k) { return conv(inputs[k], Activation::kReLU); }),
              0);
  }
}

TEST(OneDnnConv, RefusesWhatItCannotRun) {
  if (!OneDnnConv::available()) GTEST_SKIP() << "built without oneDNN";
  at::NoGradGuard no_grad;
  OneDnnConv conv(at::randn({4, 3, 3, 3}), at::randn({4}), ConvSpec(3, 4, 3));
  EXPECT_THROW(conv(at::randn({1, 5, 8, 8}), Activation::kNone), std::invalid_argument) << "channels";
  EXPECT_THROW(conv(at::randn({1, 3, 8, 8}, at::kDouble), Activation::kNone), std::invalid_argument) << "dtype";
  EXPECT_THROW(conv(at::randn({1, 3, 2, 2}), Activation::kNone), std::invalid_argument) << "smaller than the kernel";
  EXPECT_EQ(conv(at::randn({0, 3, 8, 8}), Activation::kNone).sizes(), (std::vector<int64_t>{0, 4, 6, 6}));
}

}  // namespace
}  // namespace segkit
