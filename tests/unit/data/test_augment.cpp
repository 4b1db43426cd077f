#include "segkit/data/augment.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace segkit {
namespace {

// A gray image whose pixels equal 255 * mask, so alignment after warping can be checked.
struct Pair {
  at::Tensor image, mask;
};

Pair blobs(int64_t h, int64_t w) {
  at::Tensor mask = at::zeros({h, w}, at::kLong);
  mask.slice(0, h / 5, h / 2).slice(1, w / 6, w / 2).fill_(1);
  mask.slice(0, h / 2 + 3, h - 4).slice(1, w / 2 + 5, w - 3).fill_(1);
  at::Tensor image = (mask * 255).to(at::kByte).unsqueeze(2).expand({h, w, 3}).contiguous();
  return {image, mask};
}

TEST(Augment, IdentityKeepsImageAndMask) {
  const Pair p = blobs(37, 45);
  AugmentOptions o;
  o.crop = 0;
  o.hflip = false;
  std::mt19937_64 rng(1);
  const Preprocess pre = Preprocess::gray();
  const TrainingSample s = augment(p.image, p.mask, {}, o, pre, rng);
  EXPECT_TRUE(s.mask.equal(p.mask));
  EXPECT_LT((s.image - pre.normalize(p.image)).abs().max().item<double>(), 1e-5);
}

TEST(Augment, SameSeedSameSampleAndGeometryKeepsMaskAligned) {
  const Pair p = blobs(64, 80);
  AugmentOptions o;
  o.crop = 48;
  o.vflip = o.rot90 = true;
  o.rotate = 30;
  o.scale_min = 0.8;
  o.scale_max = 1.25;
  o.shear = 10;
  o.elastic_sigma = 10;
  const Preprocess pre = Preprocess::gray();
  const at::Tensor weight = p.mask.to(at::kFloat) * 3 + 1;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    std::mt19937_64 a(seed), b(seed);
    const TrainingSample s = augment(p.image, p.mask, weight, o, pre, a);
    const TrainingSample t = augment(p.image, p.mask, weight, o, pre, b);
    ASSERT_TRUE(s.image.equal(t.image) && s.mask.equal(t.mask) && s.weight.equal(t.weight)) << "seed " << seed;
    EXPECT_EQ(s.image.sizes(), (std::vector<int64_t>{1, 48, 48}));
    // Bright pixels are the mask's ones, up to the bilinear edge.
    const at::Tensor bright = s.image[0].gt(0.0).to(at::kLong);
    EXPECT_GT(bright.eq(s.mask).to(at::kDouble).mean().item<double>(), 0.95) << "seed " << seed;
    const at::Tensor near_mask = (s.weight - (s.mask.to(at::kFloat) * 3 + 1)).abs().lt(1.5);
    EXPECT_GT(near_mask.to(at::kDouble).mean().item<double>(), 0.95) << "weight map follows the mask";
  }
  std::mt19937_64 c(100), d(101);
  EXPECT_FALSE(augment(p.image, p.mask, {}, o, pre, c).image.equal(augment(p.image, p.mask, {}, o, pre, d).image));
}

TEST(Augment, TargetBorderCropsTheMask) {
  const Pair p = blobs(64, 64);
  AugmentOptions o;
  o.crop = 44;
  o.target_border = 8;
  std::mt19937_64 rng(3);
  const TrainingSample s = augment(p.image, p.mask, {}, o, Preprocess::gray(), rng);
  EXPECT_EQ(s.mask.sizes(), (std::vector<int64_t>{28, 28}));
  EXPECT_TRUE(s.image[0].slice(0, 8, 36).slice(1, 8, 36).gt(0.0).to(at::kLong).equal(s.mask));
}

TEST(Augment, CutMixPastesTheSameBoxIntoImageAndMask) {
  std::vector<TrainingSample> batch;
  for (int64_t v : {0, 1}) {
    batch.push_back({at::full({1, 20, 20}, static_cast<double>(v)), at::full({20, 20}, v, at::kLong), {}});
  }
  std::mt19937_64 rng(4);
  cutmix(batch, 1.0, 0, rng);
  for (const auto& s : batch) {
    EXPECT_TRUE(s.image[0].to(at::kLong).equal(s.mask));
  }
  EXPECT_GT(batch[0].mask.sum().item<int64_t>(), 0) << "sample 0 got a box of sample 1";
}

}  // namespace
}  // namespace segkit
