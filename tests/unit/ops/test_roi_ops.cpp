// RoIAlign, RoIPool, the multi-scale pooler and mask pasting against torchvision
// (tools/ops_reference.py), gradients included; and what RoIAlign gains over RoIPool.

#include <gtest/gtest.h>

#include "reference_tensors.h"
#include "segkit/ops/paste_masks.h"
#include "segkit/ops/poolers.h"
#include "segkit/ops/roi_align.h"
#include "segkit/ops/roi_pool.h"

namespace segkit::testing {
namespace {

std::string case_name(int k) { return "case" + std::to_string(k) + "."; }

// The forward output and the features' gradient for `grad_out`.
template <typename Pool>
std::pair<at::Tensor, at::Tensor> pool_with_gradient(const at::Tensor& features, const at::Tensor& grad_out,
                                                     Pool&& pool) {
  const at::Tensor x = features.clone().requires_grad_(true);
  const at::Tensor out = pool(x);
  out.backward(grad_out);
  return {out.detach(), x.grad()};
}

TEST(RoIAlign, MatchesTorchvisionForwardAndBackward) {
  const ReferenceTensors reference("ops/roi_align.pth");
  int cases = 0;
  for (int k = 0; reference.has(case_name(k) + "out"); ++k, ++cases) {
    const std::string c = case_name(k);
    const at::Tensor s = reference[c + "settings"];
    ops::RoIAlignOptions options;
    options.spatial_scale = s[0].item<double>();
    options.pooled_height = s[1].item<int64_t>();
    options.pooled_width = s[2].item<int64_t>();
    options.sampling_ratio = s[3].item<int64_t>();
    options.aligned = s[4].item<double>() != 0;
    SCOPED_TRACE(c + " scale " + std::to_string(options.spatial_scale) + " output " +
                 std::to_string(options.pooled_height) + "x" + std::to_string(options.pooled_width) + " sampling " +
                 std::to_string(options.sampling_ratio) + (options.aligned ? " aligned" : ""));
    const auto [out, grad] = pool_with_gradient(reference["features"], reference[c + "grad_out"],
                                                [&](auto& x) { return ops::roi_align(x, reference["rois"], options); });
    EXPECT_TRUE(near(out, reference[c + "out"], 1e-5));
    EXPECT_TRUE(near(grad, reference[c + "grad"], 1e-5));
  }
  EXPECT_EQ(cases, 7);
  ops::RoIAlignOptions options;
  options.spatial_scale = 0.5;
  options.aligned = true;
  const auto [out, grad] =
      pool_with_gradient(reference["features"].to(at::kDouble), at::ones_like(reference["double.out"]),
                         [&](auto& x) { return ops::roi_align(x, reference["rois"].to(at::kDouble), options); });
  EXPECT_TRUE(near(out, reference["double.out"], 1e-12));
  EXPECT_TRUE(near(grad, reference["double.grad"], 1e-12));
}

TEST(RoIAlign, EmptyInputsAndBadArguments) {
  const at::Tensor features = at::randn({1, 2, 5, 5});
  EXPECT_EQ(ops::roi_align(features, at::zeros({0, 5}), {}).sizes(), at::IntArrayRef({0, 2, 7, 7}));
  EXPECT_EQ(ops::roi_align(features, std::vector<at::Tensor>{at::zeros({0, 4})}, {}).sizes(),
            at::IntArrayRef({0, 2, 7, 7}));
  EXPECT_THROW(ops::roi_align(features, at::zeros({2, 4}), {}), c10::Error);
  EXPECT_THROW(ops::roi_align(features[0], at::zeros({2, 5}), {}), c10::Error);
  const at::Tensor second_image = at::tensor({1.f, 0.f, 0.f, 2.f, 2.f}).view({1, 5});
  EXPECT_THROW(ops::roi_align(features, second_image, {}), c10::Error);  // only one image
  EXPECT_THROW(ops::roi_align(at::zeros({1, 2, 0, 5}), at::zeros({1, 5}), {}), c10::Error);
  EXPECT_THROW(ops::roi_pool(at::zeros({1, 2, 5, 0}), at::zeros({1, 5}), 2, 2), c10::Error);
  // bf16 features are pooled in float32 and come back in bf16
  const at::Tensor box = at::tensor({0.f, 0.5f, 0.5f, 4.f, 3.5f}).view({1, 5});
  const at::Tensor narrow = ops::roi_align(features.to(at::kBFloat16), box, {});
  EXPECT_EQ(narrow.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(near(narrow, ops::roi_align(features.to(at::kBFloat16).to(at::kFloat), box, {}), 2e-2));
}

// Few boxes on planar features take the planar kernel, features already channels-last the
// channels-last one: both add each channel's samples in the same order.
TEST(RoIAlign, PlanarAndChannelsLastKernelsAgreeExactly) {
  const at::Tensor features = at::randn({2, 5, 31, 29});
  const at::Tensor rois =
      at::tensor({0.f, 1.5f, 2.f, 20.f, 17.f, 1.f, -3.f, 4.f, 9.f, 30.f, 0.f, 7.f, 7.f, 7.5f, 8.f}).view({3, 5});
  ops::RoIAlignOptions options;
  options.pooled_height = options.pooled_width = 2;
  const at::Tensor planar = ops::roi_align(features, rois, options);
  const at::Tensor channels_last = ops::roi_align(features.contiguous(at::MemoryFormat::ChannelsLast), rois, options);
  EXPECT_TRUE(at::equal(planar, channels_last));
  EXPECT_GT(planar.abs().sum().item<double>(), 0);
}

TEST(RoIPool, MatchesTorchvisionForwardAndBackward) {
  const ReferenceTensors reference("ops/roi_pool.pth");
  int cases = 0;
  for (int k = 0; reference.has(case_name(k) + "out"); ++k, ++cases) {
    const std::string c = case_name(k);
    const at::Tensor s = reference[c + "settings"];
    SCOPED_TRACE(c);
    const auto [out, grad] = pool_with_gradient(reference["features"], reference[c + "grad_out"], [&](auto& x) {
      return ops::roi_pool(x, reference["rois"], s[1].item<int64_t>(), s[2].item<int64_t>(), s[0].item<double>());
    });
    EXPECT_TRUE(near(out, reference[c + "out"], 0));
    EXPECT_TRUE(near(grad, reference[c + "grad"], 1e-5));
  }
  EXPECT_EQ(cases, 3);
}

// A plane whose value rises linearly, v(x, y) = x + 2y at pixel centres (x + 0.5, y + 0.5):
// the ideal pooled value of a bin is v at the bin's centre. RoIAlign (aligned) samples
// bilinearly and gets it exactly, however the box is shifted; RoIPool rounds the box to whole
// pixels and takes the maximum, so a sub-pixel shift is lost or becomes a whole-pixel jump.
TEST(RoIAlign, KeepsSubPixelShiftsThatRoIPoolQuantizesAway) {
  const at::Tensor column = at::arange(32, at::kFloat);
  const at::Tensor plane = (column.view({1, 32}) + 2 * column.view({32, 1})).view({1, 1, 32, 32});
  ops::RoIAlignOptions options;
  options.pooled_height = options.pooled_width = 4;
  options.sampling_ratio = 2;
  options.aligned = true;
  double align_error = 0, pool_error = 0;
  for (const double shift : {0.0, 0.2, 0.4, 0.6, 0.8}) {
    const double x1 = 6 + shift, y1 = 9 + shift, x2 = x1 + 8, y2 = y1 + 8;
    const at::Tensor roi = at::tensor({0.0, x1, y1, x2, y2}, at::kFloat).view({1, 5});
    // The ideal: v at each bin's centre, the bins being 2x2 pixels.
    const at::Tensor centre = at::arange(4, at::kFloat) * 2 + 1;
    const at::Tensor ideal = (centre.view({1, 4}) + x1 - 0.5) + 2 * (centre.view({4, 1}) + y1 - 0.5);
    align_error = std::max(align_error, (ops::roi_align(plane, roi, options)[0][0] - ideal).abs().max().item<double>());
    pool_error = std::max(pool_error, (ops::roi_pool(plane, roi, 4, 4)[0][0] - ideal).abs().max().item<double>());
  }
  EXPECT_LT(align_error, 1e-4);
  EXPECT_GT(pool_error, 1.0);
}

TEST(MultiScaleRoIAlign, MapsLevelsAndPoolsAsTorchvision) {
  const ReferenceTensors reference("ops/poolers.pth");
  std::vector<at::Tensor> features;
  for (int k = 0; reference.has("features." + std::to_string(k)); ++k) {
    features.push_back(reference["features." + std::to_string(k)]);
  }
  ASSERT_EQ(features.size(), 4u);
  const std::vector<at::Tensor> boxes = {reference["boxes.0"], reference["boxes.1"]};
  const at::Tensor sizes = reference["image_sizes"];
  const std::vector<std::pair<int64_t, int64_t>> image_sizes = {
      {sizes[0][0].item<int64_t>(), sizes[0][1].item<int64_t>()},
      {sizes[1][0].item<int64_t>(), sizes[1][1].item<int64_t>()}};
  EXPECT_TRUE(at::equal(ops::LevelMapper{}(at::cat(boxes)), reference["levels"]));
  EXPECT_EQ(ops::infer_scale(200, 797), 0.25);
  EXPECT_EQ(ops::infer_scale(25, 797), 1.0 / 32);
  EXPECT_TRUE(near(ops::MultiScaleRoIAlign({7, 2}).forward(features, boxes, image_sizes), reference["box.out"], 1e-5));
  EXPECT_TRUE(
      near(ops::MultiScaleRoIAlign({14, 2}).forward(features, boxes, image_sizes), reference["mask.out"], 1e-5));
  EXPECT_TRUE(
      near(ops::MultiScaleRoIAlign({7, 2}).forward({features[0]}, boxes, image_sizes), reference["single.out"], 1e-5));
}

TEST(PasteMasks, PastesAsTorchvisionWithItsOnePixelExpansion) {
  const ReferenceTensors reference("ops/paste_masks.pth");
  EXPECT_TRUE(
      near(ops::paste_masks_in_image(reference["masks"], reference["boxes"], 97, 123), reference["pasted"], 1e-6));
  EXPECT_TRUE(near(ops::paste_masks_in_image(reference["masks"], reference["boxes"], 97, 123, /*padding=*/0),
                   reference["pasted_unpadded"], 1e-6));
  EXPECT_EQ(ops::paste_masks_in_image(at::zeros({0, 1, 28, 28}), at::zeros({0, 4}), 5, 7).sizes(),
            at::IntArrayRef({0, 1, 5, 7}));
  // A box wholly outside the image pastes nothing.
  const at::Tensor outside = at::tensor({200.f, 200.f, 220.f, 230.f}).view({1, 4});
  EXPECT_EQ(ops::paste_masks_in_image(at::ones({1, 1, 28, 28}), outside, 97, 123).sum().item<double>(), 0);
  EXPECT_THROW(ops::paste_masks_in_image(at::zeros({2, 1, 28, 28}), at::zeros({1, 4}), 5, 7), c10::Error);
}

}  // namespace
}  // namespace segkit::testing
