#include "segkit/eval/classification_metrics.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace segkit {
namespace {

using testing::fixture;

// Against scikit-learn's accuracy_score, top_k_accuracy_score, confusion_matrix and
// recall_score on random scores, fed in uneven batches.
TEST(ClassificationMetrics, MatchScikitLearn) {
  std::ifstream in(fixture("metrics/classification.json"));
  const auto expected = nlohmann::json::parse(in);
  const at::Tensor scores = read_npy(fixture("metrics/class_scores.npy"));
  const at::Tensor labels = read_npy(fixture("metrics/class_labels.npy"));
  ClassificationEvaluator evaluator(scores.size(1));
  for (int64_t start = 0; start < scores.size(0); start += 10) {
    evaluator.add(scores.slice(0, start, start + 10), labels.slice(0, start, start + 10));
  }
  const ClassificationReport r = evaluator.report();
  EXPECT_EQ(r.images, scores.size(0));
  EXPECT_NEAR(r.top1, expected["top1"].get<double>(), 1e-12);
  EXPECT_NEAR(r.top5, expected["top5"].get<double>(), 1e-12);
  const auto confusion = expected["confusion"].get<std::vector<std::vector<int64_t>>>();
  for (size_t i = 0; i < confusion.size(); ++i) {
    EXPECT_NEAR(r.class_accuracy[i], expected["class_accuracy"][i].get<double>(), 1e-12) << "class " << i;
    for (size_t j = 0; j < confusion.size(); ++j) {
      EXPECT_EQ(r.confusion[static_cast<int64_t>(i)][static_cast<int64_t>(j)].item<int64_t>(), confusion[i][j]);
    }
  }
}

TEST(ClassificationMetrics, ClassesWithoutImagesAreNotAveraged) {
  ClassificationEvaluator evaluator(3);
  evaluator.add(at::tensor({0.9, 0.1, 0.0, 0.2, 0.7, 0.1}, at::kFloat).view({2, 3}), at::tensor({0, 0}, at::kLong));
  const ClassificationReport r = evaluator.report();
  EXPECT_DOUBLE_EQ(r.top1, 0.5);
  EXPECT_EQ(r.top_k, 3) << "top-5 is top-3 with 3 classes";
  EXPECT_DOUBLE_EQ(r.top5, 1.0);
  EXPECT_TRUE(std::isnan(r.class_accuracy[1]));
  EXPECT_DOUBLE_EQ(r.mean_class_accuracy, 0.5);
  EXPECT_NE(r.to_json({"ants", "bees", "wasps"}).find("\"wasps\""), std::string::npos);
  EXPECT_NE(r.to_table({"ants", "bees", "wasps"}).find("top-3 accuracy"), std::string::npos);
}

TEST(ClassificationMetrics, RejectsLabelsOutsideTheClasses) {
  ClassificationEvaluator evaluator(2);
  EXPECT_THROW(evaluator.add(at::zeros({1, 2}), at::tensor({2}, at::kLong)), std::exception);
  EXPECT_THROW(evaluator.add(at::zeros({1, 3}), at::tensor({0}, at::kLong)), std::exception);
}

}  // namespace
}  // namespace segkit
