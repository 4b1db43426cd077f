#pragma once

// Classification measures accumulated over batches: top-1 and top-5 accuracy, each
// class's accuracy (its recall) and the confusion matrix.

#include <ATen/Tensor.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace segkit {

struct ClassificationReport {
  int64_t images = 0;
  double top1 = 0;
  double top5 = 0;  ///< top-k with k = min(5, classes)
  int64_t top_k = 5;
  /// Per class: the fraction of its images classified as it; NaN for a class with none.
  std::vector<double> class_accuracy;
  double mean_class_accuracy = 0;  ///< over the classes that have images
  /// Mean cross-entropy of the logits (the validation loss), when measured.
  std::optional<double> cross_entropy;
  at::Tensor confusion;  ///< classes x classes int64; rows truth, columns prediction

  /// top1, top5, mean_class_accuracy, loss (when measured).
  std::map<std::string, double> metrics() const;
  std::string to_json(const std::vector<std::string>& class_names = {}) const;
  /// One row per class, then the summary.
  std::string to_table(const std::vector<std::string>& class_names = {}) const;
};

class ClassificationEvaluator {
 public:
  explicit ClassificationEvaluator(int64_t num_classes);
  /// Scores (N x classes logits or probabilities) against N true class indices.
  void add(const at::Tensor& scores, const at::Tensor& labels);
  ClassificationReport report() const;

 private:
  int64_t num_classes_;
  at::Tensor confusion_;
  int64_t images_ = 0;
  int64_t top_k_correct_ = 0;
};

}  // namespace segkit
