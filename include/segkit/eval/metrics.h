#pragma once

// Segmentation metrics: a confusion matrix accumulated over images and what it
// implies (pixel accuracy, IoU, Dice), and the ISBI 2012 membrane measures.

#include <ATen/Tensor.h>

#include <map>
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

/// The Rand errors of one binary membrane image, between the 4-connected components of
/// the cell interiors (class 1) of `prediction` and of `truth`, counted over the truth's
/// interior pixels. Two definitions are in use and give different numbers:
struct RandErrors {
  /// The ISBI 2012 / SNEMI3D challenges' evaluation code (Arganda-Carreras et al. 2015):
  /// predicted membrane pixels inside true cells count as singletons, so a thin predicted
  /// membrane costs little.
  double challenge = 0;
  /// scikit-image's adapted_rand_error(truth, prediction): predicted membrane pixels are
  /// one more segment (label 0), merging every cell they touch.
  double skimage = 0;
};
RandErrors rand_errors(const at::Tensor& prediction, const at::Tensor& truth);

/// The challenges' adapted Rand error on label images (0: boundary, >0: object ids).
double adapted_rand_error(const at::Tensor& segmentation, const at::Tensor& truth_labels);

/// scikit-image's adapted_rand_error(truth_labels, segmentation) (ignore_labels=(0,), alpha=0.5).
double skimage_adapted_rand_error(const at::Tensor& segmentation, const at::Tensor& truth_labels);

struct EvalReport {
  int64_t images = 0;
  int64_t pixels = 0;
  double pixel_accuracy = 0;
  std::vector<double> iou;             ///< per class; NaN where the class is absent from truth and prediction
  std::vector<double> dice;            ///< per class, same
  std::vector<double> class_accuracy;  ///< per class: right pixels / true pixels; NaN where absent
  double mean_iou = 0;                 ///< over the classes that are not NaN
  double mean_dice = 0;
  /// Class-average accuracy (SegNet's CamVid measure; scikit-learn's balanced_accuracy_score):
  /// the mean of class_accuracy over the classes present in the truth.
  double mean_class_accuracy = 0;
  /// Mean pixel cross-entropy of the logits, where they were kept (the validation loss).
  std::optional<double> cross_entropy;
  at::Tensor confusion;
  /// Binary membrane data (2 classes): fraction of pixels wrong, and the mean Rand errors
  /// per image by the challenges' definition and by scikit-image's (see RandErrors).
  std::optional<double> pixel_error;
  std::optional<double> rand_error;
  std::optional<double> rand_error_skimage;

  /// The scalar measures by name: miou, mean_dice, pixel_accuracy, mean_class_accuracy,
  /// pixel_error, loss (the cross-entropy, when measured) and, for
  /// membrane data, rand_error and rand_error_skimage.
  std::map<std::string, double> metrics() const;
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
  RandErrors rand_sums_;
};

}  // namespace segkit
