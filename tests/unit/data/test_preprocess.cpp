#include "segkit/data/preprocess.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace segkit {
namespace {

// torchvision's to_tensor then normalize, as the parity fixtures compute it
// (tools/make_parity_fixtures.py): x.permute(2, 0, 1).float().div(255), then sub_(mean).div_(std).
at::Tensor torchvision_normalize(const at::Tensor& pixels, const Preprocess& p) {
  const at::Tensor mean = at::tensor({p.mean[0], p.mean[1], p.mean[2]}, at::kFloat).view({3, 1, 1});
  const at::Tensor std = at::tensor({p.std[0], p.std[1], p.std[2]}, at::kFloat).view({3, 1, 1});
  return pixels.permute({2, 0, 1}).to(at::kFloat).div(255).sub_(mean).div_(std);
}

TEST(Preprocess, NormalizeIsTorchvisionsBitForBit) {
  at::manual_seed(5);
  const at::Tensor pixels = at::randint(256, {37, 53, 3}).to(at::kByte);
  Preprocess imagenet = Preprocess::imagenet();
  Preprocess other;
  other.mean = {0.5, 0.25, 0.125};
  other.std = {0.3, 0.7, 1.9};
  for (const Preprocess& p : {imagenet, other}) {
    // Contiguous; a crop with steps (rows and columns strided); and a planar image seen as H x W x 3.
    const at::Tensor strided = pixels.slice(0, 1, 37, 2).slice(1, 3, 53, 3);
    const at::Tensor planar = pixels.permute({2, 0, 1}).contiguous().permute({1, 2, 0});
    for (const at::Tensor& image : {pixels, strided, planar}) {
      const at::Tensor actual = p.normalize(image);
      EXPECT_TRUE(actual.is_contiguous());
      EXPECT_TRUE(actual.equal(torchvision_normalize(image, p))) << image.sizes() << " " << image.strides();
    }
  }
}

TEST(Preprocess, NormalizeOneChannelIsTheLuminanceOrTheGrayValue) {
  const Preprocess gray = Preprocess::gray();
  at::Tensor pixels = at::randint(256, {9, 11, 1}).to(at::kByte).expand({9, 11, 3}).contiguous();
  EXPECT_TRUE(gray.normalize(pixels).equal(pixels.select(2, 0).unsqueeze(0).to(at::kFloat).div(255).sub(0.5).div(0.5)));
  pixels.select(2, 2).fill_(0);
  const at::Tensor x = pixels.permute({2, 0, 1}).to(at::kFloat).div(255);
  const at::Tensor luminance = x[0] * 0.299f + x[1] * 0.587f + x[2] * 0.114f;
  EXPECT_LT((gray.normalize(pixels)[0] - luminance.sub(0.5).div(0.5)).abs().max().item<double>(), 1e-6);
}

}  // namespace
}  // namespace segkit
