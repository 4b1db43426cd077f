#include "segkit/eval/metrics.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace segkit {
namespace {

using testing::fixture;

TEST(Metrics, HandComputedCase) {
  // truth: 0 0 1 1 / 2 2 ignore 1; prediction: 0 1 1 1 / 2 0 0 1
  const at::Tensor truth = at::tensor({0, 0, 1, 1, 2, 2, 255, 1}, at::kLong).view({2, 4});
  const at::Tensor pred = at::tensor({0, 1, 1, 1, 2, 0, 0, 1}, at::kLong).view({2, 4});
  Evaluator evaluator(3, 255, /*membrane_measures=*/false);
  evaluator.add(pred, truth);
  const EvalReport r = evaluator.report();
  const std::vector<int64_t> expected{1, 1, 0, 0, 3, 0, 1, 0, 1};
  EXPECT_TRUE(r.confusion.flatten().equal(at::tensor(expected, at::kLong)));
  EXPECT_EQ(r.pixels, 7);
  EXPECT_DOUBLE_EQ(r.pixel_accuracy, 5.0 / 7);
  // class 0: tp 1, truth 2, predicted 2 -> IoU 1/3, Dice 1/2; class 1: 3/4, 6/7; class 2: 1/2, 2/3.
  EXPECT_DOUBLE_EQ(r.iou[0], 1.0 / 3);
  EXPECT_DOUBLE_EQ(r.iou[1], 3.0 / 4);
  EXPECT_DOUBLE_EQ(r.iou[2], 1.0 / 2);
  EXPECT_DOUBLE_EQ(r.dice[1], 6.0 / 7);
  EXPECT_DOUBLE_EQ(r.mean_iou, (1.0 / 3 + 3.0 / 4 + 1.0 / 2) / 3);
  EXPECT_FALSE(r.rand_error.has_value());
}

TEST(Metrics, AbsentClassIsNotAveraged) {
  Evaluator evaluator(3, -1, false);
  evaluator.add(at::zeros({2, 2}, at::kLong), at::zeros({2, 2}, at::kLong));
  const EvalReport r = evaluator.report();
  EXPECT_TRUE(std::isnan(r.iou[1]));
  EXPECT_DOUBLE_EQ(r.mean_iou, 1.0);
  EXPECT_NE(r.to_json().find("null"), std::string::npos);
}

TEST(Metrics, MatchScikitLearnOnRandomLabelMaps) {
  std::ifstream in(fixture("metrics/sklearn.json"));
  const auto expected = nlohmann::json::parse(in);
  const at::Tensor truth = read_npy(fixture("metrics/truth.npy"));
  const at::Tensor pred = read_npy(fixture("metrics/pred.npy"));
  Evaluator evaluator(5, -1, false);
  for (int64_t i = 0; i < truth.size(0); ++i) evaluator.add(pred[i], truth[i]);
  const EvalReport r = evaluator.report();
  const auto confusion = expected["confusion"].get<std::vector<std::vector<int64_t>>>();
  for (int64_t i = 0; i < 5; ++i) {
    for (int64_t j = 0; j < 5; ++j) EXPECT_EQ(r.confusion[i][j].item<int64_t>(), confusion[i][j]) << i << "," << j;
    EXPECT_NEAR(r.iou[i], expected["iou"][i].get<double>(), 1e-12);
    EXPECT_NEAR(r.dice[i], expected["dice"][i].get<double>(), 1e-12);
    EXPECT_NEAR(r.class_accuracy[i], expected["recall"][i].get<double>(), 1e-12);
  }
  EXPECT_NEAR(r.pixel_accuracy, expected["accuracy"].get<double>(), 1e-12);
  EXPECT_NEAR(r.mean_class_accuracy, expected["balanced_accuracy"].get<double>(), 1e-12);
}

// Both Rand errors of binary membrane maps, end to end (segkit's own connected
// components), against scikit-image's adapted_rand_error itself and the ISBI/SNEMI3D
// challenges' definition (tools/isbi_rand_reference.py), on scipy's 4-connected labels.
TEST(Metrics, RandErrorsMatchScikitImageAndTheChallengeDefinition) {
  std::ifstream in(fixture("metrics/rand.json"));
  const auto expected = nlohmann::json::parse(in);
  const at::Tensor truth = read_npy(fixture("metrics/membrane_truth.npy"));
  const at::Tensor pred = read_npy(fixture("metrics/membrane_pred.npy"));
  ASSERT_EQ(static_cast<int64_t>(expected["skimage"].size()), truth.size(0));
  double difference = 0;
  for (int64_t i = 0; i < truth.size(0); ++i) {
    const RandErrors e = rand_errors(pred[i], truth[i]);
    EXPECT_NEAR(e.skimage, expected["skimage"][i].get<double>(), 1e-12) << "image " << i;
    EXPECT_NEAR(e.challenge, expected["challenge"][i].get<double>(), 1e-12) << "image " << i;
    difference += std::abs(e.skimage - e.challenge);
  }
  EXPECT_GT(difference, 1e-3) << "the two definitions give different numbers";
}

TEST(Metrics, RandErrorOfMembraneMaps) {
  // Two cells split by a membrane column; interior is class 1.
  at::Tensor truth = at::ones({6, 7}, at::kLong);
  truth.select(1, 3).zero_();
  EXPECT_DOUBLE_EQ(rand_errors(truth, truth).challenge, 0.0);
  EXPECT_DOUBLE_EQ(rand_errors(truth, truth).skimage, 0.0);
  // A prediction that misses the membrane merges the two cells.
  const at::Tensor merged = at::ones({6, 7}, at::kLong);
  // Truth cells of 18 pixels each: sum_a = 2 * 18^2; the merged segment holds 36: sum_b = 36^2,
  // sum_ab = 2 * 18^2 -> precision 1/2, recall 1, F = 2/3.
  EXPECT_NEAR(rand_errors(merged, truth).challenge, 1.0 / 3, 1e-12);
  // A membrane shifted by a column still separates, but moves 6 of cell B's pixels onto the
  // predicted membrane: sum_ab = sum_b = 18^2 + 12^2 + 6/42, sum_a = 2 * 18^2 -> precision 1.
  at::Tensor shifted = at::ones({6, 7}, at::kLong);
  shifted.select(1, 4).zero_();
  const double recall = (18.0 * 18 + 12 * 12 + 6.0 / 42) / (2 * 18.0 * 18);
  EXPECT_NEAR(rand_errors(shifted, truth).challenge, 1 - 2 * recall / (1 + recall), 1e-12);
  Evaluator evaluator(2, -1, /*membrane_measures=*/true);
  evaluator.add(merged, truth);
  const EvalReport r = evaluator.report();
  EXPECT_NEAR(*r.pixel_error, 6.0 / 42, 1e-12);
  EXPECT_NEAR(*r.rand_error, 1.0 / 3, 1e-12);
}

}  // namespace
}  // namespace segkit
