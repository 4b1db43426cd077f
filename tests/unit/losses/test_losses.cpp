#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "segkit/losses/classification_loss.h"
#include "segkit/losses/segmentation_loss.h"
#include "segkit/losses/unet_weight_map.h"

namespace segkit {
namespace {

double nll(double own, double other) { return -own + std::log(std::exp(own) + std::exp(other)); }

TEST(Losses, CrossEntropyWithIgnoreAndClassWeights) {
  const at::Tensor x = at::tensor({2.0, 0.0, 0.0, 1.0}, at::kDouble).view({1, 2, 1, 2});  // pixel0 (2,0), pixel1 (0,1)
  LossOptions o;
  o.ignore_index = 255;
  const at::Tensor target = at::tensor({0, 0}, at::kLong).view({1, 1, 2});
  const double l0 = nll(2, 0), l1 = nll(0, 1);
  EXPECT_NEAR(segmentation_loss(x, target, {}, o).item<double>(), (l0 + l1) / 2, 1e-12);
  const at::Tensor ignored = at::tensor({0, 255}, at::kLong).view({1, 1, 2});
  EXPECT_NEAR(segmentation_loss(x, ignored, {}, o).item<double>(), l0, 1e-12);
  o.class_weights = {3.0, 1.0};
  const at::Tensor mixed = at::tensor({0, 1}, at::kLong).view({1, 1, 2});
  EXPECT_NEAR(segmentation_loss(x, mixed, {}, o).item<double>(), (3 * l0 + nll(1, 0)) / 4, 1e-12);
  o.class_weights.clear();
  const at::Tensor weight = at::tensor({2.0, 0.5}, at::kDouble).view({1, 1, 2});
  EXPECT_NEAR(segmentation_loss(x, target, weight, o).item<double>(), (2 * l0 + 0.5 * l1) / 2, 1e-12);
}

TEST(Losses, FocalAndDice) {
  const at::Tensor x = at::tensor({2.0, 0.0, 0.0, 1.0}, at::kDouble).view({1, 2, 1, 2});
  const at::Tensor target = at::tensor({0, 1}, at::kLong).view({1, 1, 2});
  LossOptions o;
  o.kind = LossKind::kFocal;
  const double p0 = std::exp(2) / (std::exp(2) + 1), p1 = std::exp(1) / (std::exp(1) + 1);
  const double focal = (-(1 - p0) * (1 - p0) * std::log(p0) - (1 - p1) * (1 - p1) * std::log(p1)) / 2;
  EXPECT_NEAR(segmentation_loss(x, target, {}, o).item<double>(), focal, 1e-12);
  o.kind = LossKind::kDice;
  // class 0: p = (p0, 1 - p1), g = (1, 0); class 1: p = (1 - p0, p1), g = (0, 1); smoothing 1.
  const double d0 = (2 * p0 + 1) / (p0 + 1 - p1 + 1 + 1), d1 = (2 * p1 + 1) / (1 - p0 + p1 + 1 + 1);
  EXPECT_NEAR(segmentation_loss(x, target, {}, o).item<double>(), 1 - (d0 + d1) / 2, 1e-12);
  // A perfect, confident prediction has a near-zero Dice loss.
  const at::Tensor sure = at::tensor({20.0, -20.0, -20.0, 20.0}, at::kDouble).view({1, 2, 1, 2});
  EXPECT_LT(segmentation_loss(sure, target, {}, o).item<double>(), 1e-6);
}

TEST(Losses, ClassificationWithLabelSmoothingAndSoftTargets) {
  const at::Tensor logits = at::tensor({2.0, 0.0, -1.0, 0.5, 1.5, 0.0}, at::kDouble).view({2, 3});
  LossOptions o;
  o.label_smoothing = 0.1;
  // Smoothed one-hot targets: 0.9 + 0.1 / 3 on the true class, 0.1 / 3 elsewhere.
  const at::Tensor log_p = at::log_softmax(logits, 1);
  const double expected = -((0.9 + 0.1 / 3) * log_p[0][0] + 0.1 / 3 * (log_p[0][1] + log_p[0][2]) +
                            (0.9 + 0.1 / 3) * log_p[1][2] + 0.1 / 3 * (log_p[1][0] + log_p[1][1]))
                               .item<double>() /
                          2;
  EXPECT_NEAR(classification_loss(logits, at::tensor({0, 2}, at::kLong), o).item<double>(), expected, 1e-12);
  // Mixup's soft labels: the mixed sample's loss is the mix of the two losses.
  o.label_smoothing = 0;
  const at::Tensor mixed = at::tensor({0.3, 0.7, 0.0}, at::kDouble).view({1, 3});
  const double mix = -(0.3 * log_p[0][0] + 0.7 * log_p[0][1]).item<double>();
  EXPECT_NEAR(classification_loss(logits.slice(0, 0, 1), mixed, o).item<double>(), mix, 1e-12);
}

TEST(Losses, DistillationIsTemperatureScaledKlDivergence) {
  at::manual_seed(3);
  const at::Tensor student = at::randn({4, 5}, at::kDouble), teacher = at::randn({4, 5}, at::kDouble);
  const double t = 3;
  const at::Tensor kl =
      at::kl_div(at::log_softmax(student / t, 1), at::softmax(teacher / t, 1), at::Reduction::Sum) / 4 * (t * t);
  EXPECT_NEAR(distillation_loss(student, teacher, t).item<double>(), kl.item<double>(), 1e-12);
  EXPECT_NEAR(distillation_loss(teacher, teacher, t).item<double>(), 0.0, 1e-12);
}

TEST(WeightMap, BorderTermBetweenTouchingCells) {
  // Two 10 x 10 cells (class 1) separated by a 4-pixel membrane gap (class 0).
  at::Tensor mask = at::zeros({10, 24}, at::kLong);
  mask.slice(1, 0, 10).fill_(1);
  mask.slice(1, 14, 24).fill_(1);
  WeightMapOptions o;
  o.balance = false;
  const at::Tensor w = unet_weight_map(mask, 2, 255, o);
  // Gap column 11: distance 2 to the left cell's last column (9) and 3 to the right's first (14).
  const double expected = 1 + 10 * std::exp(-std::pow(2.0 + 3.0, 2) / (2 * 25.0));
  EXPECT_NEAR(w[5][11].item<double>(), expected, 1e-4);
  EXPECT_DOUBLE_EQ(w[5][5].item<double>(), 1.0) << "no border term inside a cell";
  // Class balancing: 200 interior pixels and 40 membrane pixels -> weights 240/(2*200), 240/(2*40).
  o.balance = true;
  o.w0 = 0;
  const at::Tensor balanced = unet_weight_map(mask, 2, 255, o);
  EXPECT_NEAR(balanced[0][0].item<double>(), 0.6, 1e-6);
  EXPECT_NEAR(balanced[0][12].item<double>(), 3.0, 1e-6);
  mask[0][12] = 255;
  EXPECT_EQ(unet_weight_map(mask, 2, 255, o)[0][12].item<double>(), 0.0) << "ignored pixels weigh nothing";
}

}  // namespace
}  // namespace segkit
