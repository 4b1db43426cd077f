#pragma once

#include <cstdint>
#include <vector>

namespace segkit {

enum class LossKind {
  kCrossEntropy,      ///< with class weights, ignore index and the pixel weight map when given
  kDice,              ///< soft Dice over the classes
  kFocal,             ///< Lin et al.'s focal loss, -(1 - p_t)^gamma log p_t
  kCrossEntropyDice,  ///< their sum
};

/// How a model scores its outputs against targets in training; each model applies
/// what concerns its task and returns named losses.
struct LossOptions {
  /// Semantic segmentation's per-pixel loss.
  LossKind kind = LossKind::kCrossEntropy;
  /// One weight per class (empty: all 1). Semantic segmentation.
  std::vector<double> class_weights;
  int64_t ignore_index = 255;
  double focal_gamma = 2;
  /// Weight of each auxiliary head's loss (the semantic aux head; GoogLeNet's two aux classifiers).
  double aux_weight = 0.4;
  /// Classification: the true class gets 1 - eps, every class eps / classes (Szegedy et al. 2016).
  double label_smoothing = 0;
  /// Knowledge distillation (Hinton et al. 2015): weight alpha of the temperature-softened
  /// KL divergence to the teacher, cross-entropy weighted 1 - alpha; 0: off.
  double distill_alpha = 0;
  double distill_temperature = 4;
};

}  // namespace segkit
