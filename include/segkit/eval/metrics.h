#pragma once

// Segmentation metrics: a confusion matrix accumulated over images and what it
// implies (pixel accuracy, IoU, Dice), and the ISBI 2012 membrane measures.

#include <ATen/Tensor.h>

#include <optional>
#include <string>
#include <vector>

namespace segkit {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t num_classes);
  /// Counts prediction vs truth (same shape, class indices); truth == ignore_index is skipped.
  void add(const at::Tensor& prediction, const at::Tensor& truth, int64_t ignore_index = -1);
  /// num_classes x num_classes int64; rows are the truth, columns the prediction.
  const at::Tensor& matrix() const { return matrix_; }
  int64_t num_classes() const { return num_classes_; }

 private:
  int64_t num_classes_;
  at::Tensor matrix_;
};

/// The ISBI 2012 challenge's Rand error for one binary membrane image: 1 minus the
/// foreground-restricted Rand F-score between the 4-connected components of the cell
/// interiors (class 1) of `prediction` and of `truth`, counted over the truth's interior
/// pixels (Arganda-Carreras et al. 2015; scikit-image's adapted_rand_error).
double rand_error(const at::Tensor& prediction, const at::Tensor& truth);

/// Same, on label images (0: boundary/background, >0: object ids).
double adapted_rand_error(const at::Tensor& segmentation, const at::Tensor& truth_labels);

struct EvalReport {
  int64_t images = 0;
  int64_t pixels = 0;
  double pixel_accuracy = 0;
  std::vector<double> iou;   ///< per class; NaN where the class is absent from truth and prediction
  std::vector<double> dice;  ///< per class, same
  double mean_iou = 0;       ///< over the classes that are not NaN
  double mean_dice = 0;
  at::Tensor confusion;
  /// Binary membrane data (2 classes): fraction of pixels wrong, and the mean Rand error per image.
  std::optional<double> pixel_error;
  std::optional<double> rand_error;

  std::string to_json() const;
  /// A readable table, one row per class, then the summary.
  std::string to_table(const std::vector<std::string>& class_names = {}) const;
};

/// Accumulates images into a report.
class Evaluator {
 public:
  Evaluator(int64_t num_classes, int64_t ignore_index, bool membrane_measures);
  void add(const at::Tensor& prediction, const at::Tensor& truth);
  EvalReport report() const;

 private:
  ConfusionMatrix confusion_;
  int64_t ignore_index_;
  bool membrane_;
  int64_t images_ = 0;
  double rand_error_sum_ = 0;
};

}  // namespace segkit
