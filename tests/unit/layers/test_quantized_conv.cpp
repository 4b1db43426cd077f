#include "segkit/layers/quantized_conv.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "test_util.h"

#include <cmath>

#include "segkit/layers/onednn_conv.h"

namespace segkit {
namespace {

struct QuantizedCase {
  int64_t in, out, kernel, stride, padding, dilation;
  int64_t batch, height, width;
  Activation activation;
  bool negative;  // the input has negative values: int8, else uint8
};

std::ostream& operator<<(std::ostream& os, const QuantizedCase& c) {
  return os << c.in << "->" << c.out << " k" << c.kernel << " s" << c.stride << " p" << c.padding << " d" << c.dilation
            << " " << c.batch << "x" << c.height << "x" << c.width << " act " << static_cast<int>(c.activation)
            << (c.negative ? " signed" : " unsigned");
}

ConvSpec spec_of(const QuantizedCase& c) {
  return ConvSpec(c.in, c.out, c.kernel).stride(c.stride).padding(c.padding).dilation(c.dilation);
}

at::Tensor conv(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, const QuantizedCase& c) {
  return at::conv2d(x, weight, bias, {c.stride, c.stride}, {c.padding, c.padding}, {c.dilation, c.dilation});
}

// What an int8 convolution computes, written out in ATen: the input rounded to its integer
// grid (QuantizedConv::input_scale of its range; uint8 or int8 saturation), times the
// dequantized weights, in double (integers times scales are exact there), plus the bias,
// activated. segkit's result may differ from it only by float rounding.
at::Tensor quantized_reference(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                               const QuantizedCase& c) {
  const at::Tensor xf = x.to(at::kFloat);
  const float min = xf.min().item<float>(), max = xf.max().item<float>();
  const double scale = QuantizedConv::input_scale(min, max);
  const at::Tensor grid = (xf.to(at::kDouble) / scale).round().clamp(min < 0 ? -128 : 0, min < 0 ? 127 : 255) * scale;
  return activate(conv(grid, weight.to(at::kDouble), bias.to(at::kDouble), c), c.activation);
}

class QuantizedConvMatches : public ::testing::TestWithParam<QuantizedCase> {};

TEST_P(QuantizedConvMatches, TheQuantizedArithmeticAndTheFloatConvolution) {
  const QuantizedCase c = GetParam();
  if (!QuantizedConv::available()) {  // no int8 dot products: the rewrite keeps float convolutions
    auto module = torch::nn::Conv2d(spec_of(c).to_options());
    InferenceOptions options;
    options.int8 = true;
    EXPECT_EQ(FoldedConv::fold(spec_of(c), *module, nullptr, options).quantized, nullptr);
    return;
  }
  at::manual_seed(21);
  // Output channels of different magnitudes: each has its own weight scale.
  const at::Tensor weight = at::randn({c.out, c.in, c.kernel, c.kernel}) * at::rand({c.out, 1, 1, 1}) * 0.3;
  const at::Tensor bias = at::randn({c.out});
  at::NoGradGuard no_grad;
  QuantizedConv quantized(weight, bias, spec_of(c));
  const at::Tensor dequantized = quantized.dequantized_weight();
  // Weights: per output channel, at most half a step of that channel's grid from the float ones.
  const at::Tensor step = weight.abs().amax({1, 2, 3}, true) / 127;
  EXPECT_LE(((dequantized - weight).abs() / step).max().item<double>(), 0.5 + 1e-4) << c;

  const at::Tensor raw = at::randn({c.batch, c.in, c.height, c.width});
  const at::Tensor x = c.negative ? raw : raw.relu();
  const std::vector<at::Tensor> inputs = {x, x.contiguous(at::MemoryFormat::ChannelsLast)};
  for (int pass = 0; pass < 2; ++pass) {  // the second pass reuses the kernels
    for (const at::Tensor& input : inputs) {
      const at::Tensor got = quantized(input, c.activation);
      const at::Tensor expected = quantized_reference(input, dequantized, bias, c);
      ASSERT_EQ(got.sizes(), expected.sizes()) << c;
      EXPECT_TRUE(got.is_contiguous(at::MemoryFormat::ChannelsLast)) << c;
      const double magnitude = 1 + expected.abs().max().item<double>();
      EXPECT_LT((got.to(at::kDouble) - expected).abs().max().item<double>(), 1e-5 * magnitude) << c;
      // Against the float convolution: relative L2 error within int8's (about 1%).
      const at::Tensor exact = activate(conv(input, weight, bias, c), c.activation);
      const double error = ((got - exact).norm() / exact.norm()).item<double>();
      EXPECT_LT(error, 0.02) << c;
      EXPECT_GT(error, 0) << c << ": quantized, not float";
    }
  }
  // bfloat16 in and out: the same arithmetic on the bf16-rounded input, the result rounded.
  QuantizedConv half(weight, bias, spec_of(c), at::kBFloat16);
  const at::Tensor x16 = x.to(at::kBFloat16);
  const at::Tensor got = half(x16, c.activation);
  ASSERT_EQ(got.scalar_type(), at::kBFloat16);
  const at::Tensor expected = quantized_reference(x16, dequantized, bias, c);
  EXPECT_LT((got.to(at::kDouble) - expected).abs().max().item<double>(),
            8e-3 * (1 + expected.abs().max().item<double>()))
      << c << " bf16";
  EXPECT_THROW(half(x, c.activation), std::invalid_argument) << "float32 input to a bf16 convolution";
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, QuantizedConvMatches,
    ::testing::Values(QuantizedCase{32, 48, 3, 1, 1, 1, 2, 37, 41, Activation::kReLU, false},
                      QuantizedCase{16, 24, 3, 1, 1, 1, 1, 29, 33, Activation::kNone, true},
                      QuantizedCase{24, 40, 3, 2, 1, 1, 2, 31, 29, Activation::kReLU6, false},      // stride 2
                      QuantizedCase{16, 24, 3, 1, 2, 2, 1, 30, 30, Activation::kSiLU, true},        // dilated
                      QuantizedCase{40, 24, 1, 1, 0, 1, 3, 15, 9, Activation::kHardsigmoid, true},  // not fusable
                      QuantizedCase{64, 16, 1, 1, 0, 1, 1, 1, 1, Activation::kNone, false}));       // 1 x 1 input

TEST(QuantizedConv, InputScalesAreStepsThatCoverTheRange) {
  for (const float max : {0.01f, 0.7f, 1.f, 3.3f, 255.f, 1e4f}) {
    const float unsigned_scale = QuantizedConv::input_scale(0, max);
    EXPECT_GE(unsigned_scale * 255, max * (1 - 1e-5f)) << max << ": the largest value is not clipped";
    const float coarsest = std::exp2(1.f / QuantizedConv::kScaleStepsPerOctave) * (1 + 1e-5f);
    EXPECT_LT(unsigned_scale * 255, max * coarsest) << max;
    const float signed_scale = QuantizedConv::input_scale(-max, max / 2);
    EXPECT_GE(signed_scale * 127, max * (1 - 1e-5f)) << max;
    EXPECT_LT(signed_scale * 127, max * coarsest) << max;
    const float step = std::log2(unsigned_scale) * QuantizedConv::kScaleStepsPerOctave;
    EXPECT_NEAR(step, std::round(step), 1e-3) << max << ": a step";
  }
  EXPECT_EQ(QuantizedConv::input_scale(0, 0), 1.f);
  EXPECT_EQ(QuantizedConv::input_scale(0, std::nanf("")), 1.f);
  EXPECT_EQ(QuantizedConv::input_scale(-INFINITY, 1), 1.f);
}

TEST(QuantizedConv, TakesTheLayersThatGain) {
  EXPECT_TRUE(QuantizedConv::eligible(ConvSpec(64, 64, 3)));
  EXPECT_TRUE(QuantizedConv::eligible(ConvSpec(2048, 512, 3).dilation(4).padding(4)));
  EXPECT_FALSE(QuantizedConv::eligible(ConvSpec(3, 64, 7))) << "an image's first layer";
  EXPECT_FALSE(QuantizedConv::eligible(ConvSpec(64, 64, 3).groups(64))) << "depthwise";
  // Where int8 was measured faster than bf16 (bench/RESULTS.md): many pixels, or much
  // arithmetic per input value.
  constexpr int64_t kSmall = 14 * 14, kLarge = 65 * 65;
  EXPECT_TRUE(QuantizedConv::pays(ConvSpec(64, 64, 3), kLarge));
  EXPECT_TRUE(QuantizedConv::pays(ConvSpec(256, 256, 3), kSmall)) << "ResNet's 3 x 3 on 14 x 14";
  EXPECT_FALSE(QuantizedConv::pays(ConvSpec(128, 32, 3), kSmall)) << "DenseNet's 3 x 3 on 14 x 14";
  EXPECT_TRUE(QuantizedConv::pays(ConvSpec(128, 32, 3), kLarge));
  EXPECT_TRUE(QuantizedConv::pays(ConvSpec(160, 960, 1), kLarge)) << "MobileNet's expansion";
  EXPECT_FALSE(QuantizedConv::pays(ConvSpec(120, 40, 1), kLarge)) << "MobileNet's projection: few outputs";
  EXPECT_FALSE(QuantizedConv::pays(ConvSpec(1024, 256, 1), kSmall)) << "ResNet's reduction on 14 x 14";
  EXPECT_TRUE(QuantizedConv::pays(ConvSpec(1024, 256, 1), kLarge));
  EXPECT_TRUE(QuantizedConv::pays(ConvSpec(256, 1024, 1), kSmall)) << "ResNet's expansion";
  EXPECT_FALSE(QuantizedConv::pays(ConvSpec(240, 960, 1), 1)) << "squeeze-and-excitation on 1 x 1";
}

// run() takes int8 where it pays for the input's size and, where not, the float convolution of
// the same 8-bit weights.
TEST(QuantizedConv, RunsInFloatWhereInt8DoesNotPay) {
  if (!QuantizedConv::available()) GTEST_SKIP() << "no int8 dot products on this CPU";
  at::manual_seed(5);
  at::NoGradGuard no_grad;
  const ConvSpec spec = ConvSpec(32, 24, 3).padding(1);  // 24 outputs: int8 on 784 pixels or more
  const at::Tensor weight = at::randn({24, 32, 3, 3}) * 0.1, bias = at::randn({24});
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const QuantizedConv conv(weight, bias, spec, dtype);
    const at::Tensor dequantized = conv.dequantized_weight();
    for (const int64_t side : {20, 40}) {
      SCOPED_TRACE(std::string(c10::toString(dtype)) + ", " + std::to_string(side) + " x " + std::to_string(side));
      const bool int8 = QuantizedConv::pays(spec, side * side);
      EXPECT_EQ(int8, side == 40);
      const at::Tensor x = at::randn({1, 32, side, side}).relu_().to(dtype);
      const at::Tensor got = conv.run(x, Activation::kReLU).to(at::kFloat);
      const at::Tensor expected = int8 ? conv(x, Activation::kReLU).to(at::kFloat)
                                       : at::conv2d(x.to(at::kFloat), dequantized, bias, {1, 1}, {1, 1}).relu_();
      const double tolerance = dtype == at::kFloat ? 1e-5 : 1e-2;
      EXPECT_LT((got - expected).abs().max().item<double>(), tolerance * (1 + expected.abs().max().item<double>()));
    }
  }
}

// As OneDnnConv's: kernels made here, run by four threads at once, in int8 and, on the small
// inputs, in float from the same weights.
TEST(QuantizedConv, RunsOnSeveralThreadsAtOnce) {
  if (!QuantizedConv::available()) GTEST_SKIP() << "no int8 dot products on this CPU";
  at::manual_seed(6);
  at::NoGradGuard no_grad;
  const ConvSpec spec = ConvSpec(32, 24, 3).padding(1);  // int8 on 784 pixels or more
  const at::Tensor weight = at::randn({24, 32, 3, 3}) * 0.1, bias = at::randn({24});
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    const QuantizedConv conv(weight, bias, spec, dtype);
    std::vector<at::Tensor> inputs, expected;
    for (const int64_t side : {20, 40, 48}) {
      for (const bool negative : {false, true}) {
        const at::Tensor x = at::randn({1, 32, side, side});
        inputs.push_back((negative ? x : x.relu()).to(dtype));
        expected.push_back(conv.run(inputs.back(), Activation::kReLU));
      }
    }
    EXPECT_EQ(
        testing::concurrent_mismatches(expected, [&](size_t k) { return conv.run(inputs[k], Activation::kReLU); }), 0);
  }
}

TEST(QuantizedConv, RefusesWhatItCannotRun) {
  if (!QuantizedConv::available()) GTEST_SKIP() << "no int8 dot products on this CPU";
  at::NoGradGuard no_grad;
  EXPECT_THROW(QuantizedConv(at::randn({4, 16, 3, 3}), at::randn({4}), ConvSpec(16, 4, 3).groups(2)),
               std::invalid_argument);
  const at::Tensor conv_bias = at::randn({4});
  QuantizedConv conv(at::randn({4, 16, 3, 3}), conv_bias, ConvSpec(16, 4, 3));
  EXPECT_THROW(conv(at::randn({1, 5, 8, 8}), Activation::kNone), std::invalid_argument) << "channels";
  EXPECT_THROW(conv(at::randn({1, 16, 8, 8}, at::kDouble), Activation::kNone), std::invalid_argument) << "dtype";
  EXPECT_THROW(conv(at::randn({1, 16, 2, 2}), Activation::kNone), std::invalid_argument) << "smaller than the kernel";
  EXPECT_EQ(conv(at::randn({0, 16, 8, 8}), Activation::kNone).sizes(), (std::vector<int64_t>{0, 4, 6, 6}));
  const at::Tensor zeros = conv(at::zeros({1, 16, 8, 8}), Activation::kNone);
  ASSERT_EQ(zeros.sizes(), (std::vector<int64_t>{1, 4, 6, 6}));
  EXPECT_TRUE(zeros.allclose(conv_bias.reshape({1, 4, 1, 1}).expand({1, 4, 6, 6}))) << "zeros give the bias";
}

}  // namespace
}  // namespace segkit
