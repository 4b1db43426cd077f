#pragma once

#include <memory>

#include "segkit/models/model.h"

namespace segkit {

/// An image classification model.
class ClassifierImpl : public ModelImpl {
 public:
  Task task() const override { return Task::kClassification; }
  /// Logits; in training also the auxiliary classifiers' (GoogLeNet), if any.
  virtual ClassificationOutput forward(const at::Tensor& x) = 0;
  /// "loss_cls" (cross-entropy with label smoothing, times 1 - distill_alpha), "loss_aux1",
  /// ... (each times aux_weight) and, given teacher logits, "loss_distill" (times distill_alpha).
  LossMap losses(const at::Tensor& images, const Targets& targets, const LossOptions& options) override;
};
using Classifier = std::shared_ptr<ClassifierImpl>;

}  // namespace segkit
