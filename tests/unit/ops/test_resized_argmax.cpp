#include "segkit/ops/resized_argmax.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace segkit {
namespace {

// Against LibTorch's resize(s) then argmax: the same class wherever LibTorch's two best resized
// values are more than a rounding apart (the sums may be ordered differently: within 1e-5).
void expect_argmax_of(const at::Tensor& resized, const at::Tensor& actual, const std::string& what) {
  const at::Tensor expected = resized.argmax(0);
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  ASSERT_EQ(actual.scalar_type(), at::kLong) << what;
  const at::Tensor differ = actual.ne(expected);
  if (resized.size(0) > 1) {
    const at::Tensor top2 = std::get<0>(resized.topk(2, 0));
    const at::Tensor near_tie = (top2[0] - top2[1]).le(1e-5 * (1 + resized.abs().max().item<double>()));
    EXPECT_EQ(differ.logical_and(near_tie.logical_not()).sum().item<int64_t>(), 0) << what;
  }
  EXPECT_LE(differ.sum().item<int64_t>(), 2) << what << ": only near-ties may differ";
}

at::Tensor resize(const at::Tensor& logits, int64_t height, int64_t width) {
  return at::upsample_bilinear2d(logits.to(at::kFloat).unsqueeze(0), {height, width}, /*align_corners=*/false)[0];
}

void expect_matches_libtorch(const at::Tensor& logits, int64_t height, int64_t width) {
  std::ostringstream what;
  what << logits.sizes() << " to " << height << "x" << width;
  expect_argmax_of(resize(logits, height, width), resized_argmax(logits, height, width), what.str());
}

TEST(ResizedArgmax, IsLibTorchsResizeThenArgmax) {
  at::manual_seed(3);
  const std::vector<std::vector<int64_t>> cases = {
      // channels, h, w, height, width
      {21, 52, 69, 72, 96},   // enlarged, as 520 x 693 logits to a 720 x 960 image
      {7, 97, 123, 41, 50},   // shrunk
      {2, 31, 17, 31, 17},    // the same size: a plain argmax
      {1, 5, 6, 11, 13},      // one channel: all zeros
      {19, 1, 1, 8, 9},       // one pixel
      {3, 40, 40, 41, 121}};  // one side nearly the same
  for (const auto& c : cases) {
    const at::Tensor logits = at::randn({c[0], c[1], c[2]});
    expect_matches_libtorch(logits, c[3], c[4]);
    // Channels-last batches' slices, as the network hands them over, and bfloat16 logits.
    expect_matches_libtorch(logits.unsqueeze(0).contiguous(at::MemoryFormat::ChannelsLast)[0], c[3], c[4]);
    expect_matches_libtorch(logits.to(at::kBFloat16), c[3], c[4]);
  }
}

// Resized twice, as a model's logits to its input and then to the image: on smooth logits (a
// model's, mostly one class over large areas: the shortcut) and on noise (every pixel summed),
// enlarged then shrunk and the other way, with magnitudes far apart across the map.
TEST(ResizedArgmax, TwiceIsLibTorchsTwoResizesThenArgmax) {
  at::manual_seed(6);
  const std::vector<std::vector<int64_t>> cases = {
      // channels, h, w, mid height, mid width, height, width
      {21, 65, 87, 520, 693, 360, 480},  // lraspp's stride-8 logits of a 480 x 360 CamVid image
      {21, 33, 44, 520, 693, 720, 960},  // stride 16, enlarged twice
      {5, 40, 50, 37, 45, 80, 101},      // shrunk, then enlarged
      {3, 9, 11, 9, 11, 30, 31},         // the first resize keeps the size
      {2, 7, 8, 20, 21, 20, 21},         // the second keeps it
      {1, 4, 4, 9, 9, 5, 5}};            // one class
  for (const auto& c : cases) {
    const at::Tensor smooth = resize(at::randn({c[0], (c[1] + 3) / 4, (c[2] + 3) / 4}) * 4, c[1], c[2]);
    at::Tensor uneven = smooth.clone();
    uneven.slice(2, 0, c[2] / 3).mul_(1e4);  // a third of the map 10^4 times larger
    for (const at::Tensor& logits : {smooth, uneven, at::randn({c[0], c[1], c[2]})}) {
      std::ostringstream what;
      what << logits.sizes() << " to " << c[3] << "x" << c[4] << " to " << c[5] << "x" << c[6];
      expect_argmax_of(resize(resize(logits, c[3], c[4]), c[5], c[6]), resized_argmax(logits, c[3], c[4], c[5], c[6]),
                       what.str());
    }
  }
  // A NaN reaches the outputs whose sums read it, and wins there.
  at::Tensor logits = at::zeros({3, 6, 6});
  logits[0].fill_(2);
  logits[2][3][3] = std::nan("");
  const at::Tensor nan_map = resize(resize(logits, 12, 12), 9, 9).isnan().any(0);
  const at::Tensor map = resized_argmax(logits, 12, 12, 9, 9);
  EXPECT_TRUE(map.eq(2).equal(nan_map));
  EXPECT_TRUE(map.eq(0).equal(nan_map.logical_not()));
}

TEST(ResizedArgmax, TiesGoToTheFirstChannelAndNaNWins) {
  at::Tensor logits = at::zeros({4, 3, 3});
  EXPECT_TRUE(resized_argmax(logits, 5, 5).eq(0).all().item<bool>()) << "all equal: channel 0";
  logits[2].fill_(1);
  logits[3].fill_(1);
  EXPECT_TRUE(resized_argmax(logits, 5, 5).eq(2).all().item<bool>()) << "the first of the largest";
  logits[1][1][1] = std::nan("");
  EXPECT_EQ(resized_argmax(logits, 3, 3)[1][1].item<int64_t>(), 1) << "NaN, as at::argmax";
  EXPECT_THROW(resized_argmax(at::zeros({3, 3}), 5, 5), c10::Error);
  // Many ties, at the image's own size: at::argmax exactly, also with a NaN after the largest value.
  at::manual_seed(4);
  at::Tensor few = at::randint(0, 3, {21, 17, 19}).to(at::kFloat);
  EXPECT_TRUE(resized_argmax(few, 17, 19).equal(few.argmax(0)));
  few[20][3][4] = std::nan("");
  few[13][8][9] = std::nan("");
  EXPECT_TRUE(resized_argmax(few, 17, 19).equal(few.argmax(0)));
}

// channel_argmax is at::argmax(0) exactly: ties to the first channel, NaN above all (the first
// NaN), on strided slices (a band of a larger accumulator) and reduced-precision logits.
TEST(ChannelArgmax, IsLibTorchsArgmaxOverChannels) {
  at::manual_seed(5);
  for (const auto& shape : std::vector<std::vector<int64_t>>{{2, 37, 53}, {21, 9, 130}, {1, 4, 5}, {3, 1, 1}}) {
    // Rounded to halves: many exact ties.
    at::Tensor logits = (at::randn(shape) * 2).round() / 2;
    if (logits.numel() > 20) {
      logits.view(-1)[7] = NAN;
      logits.view(-1)[logits.numel() - 3] = NAN;
      logits.view(-1)[logits.numel() / 2] = -INFINITY;
    }
    EXPECT_TRUE(channel_argmax(logits).equal(logits.argmax(0))) << logits.sizes();
    const at::Tensor wide = at::randn({shape[0], shape[1] + 4, shape[2] + 3});
    const at::Tensor band = wide.slice(1, 2, 2 + shape[1]).slice(2, 1, 1 + shape[2]);
    EXPECT_TRUE(channel_argmax(band).equal(band.argmax(0))) << "a slice";
    const at::Tensor last = wide.unsqueeze(0).contiguous(at::MemoryFormat::ChannelsLast)[0];
    EXPECT_TRUE(channel_argmax(last).equal(last.argmax(0))) << "channels innermost";
    const at::Tensor half = logits.to(at::kBFloat16);
    EXPECT_TRUE(channel_argmax(half).equal(half.to(at::kFloat).argmax(0))) << "bfloat16";
  }
}

}  // namespace
}  // namespace segkit
