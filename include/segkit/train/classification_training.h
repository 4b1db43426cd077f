#pragma once

// The classification task for the training loop: labelled images, per-image and
// batch augmentation (mixup, CutMix), an optional distillation teacher, and top-1 /
// top-5 validation.

#include <memory>

#include "segkit/data/classification_augment.h"
#include "segkit/data/classification_dataset.h"
#include "segkit/infer/classification_predictor.h"
#include "segkit/train/training_task.h"

namespace segkit {

struct ClassificationTrainingOptions {
  ClassAugmentOptions augment;
  /// What validation images go through (resize, center crop, normalization).
  Preprocess eval_preprocess = Preprocess::imagenet();
  /// Images per validation forward pass.
  int64_t eval_batch = 16;
};

class ClassificationTraining : public TrainingTask {
 public:
  /// `preprocess` normalizes training crops; `validation` may be null (then the training
  /// images are measured); `teacher`, when given, adds its logits to every batch.
  ClassificationTraining(const ClassificationDataset& train, const ClassificationDataset* validation,
                         Preprocess preprocess, ClassificationTrainingOptions options,
                         std::unique_ptr<ClassificationPredictor> teacher = nullptr);

  size_t size() const override { return train_.size(); }
  TrainingBatch make_batch(const BatchPlan& plan) const override;
  void complete_targets(TrainingBatch& batch) override;
  /// top1, top5 and mean_class_accuracy.
  size_t validation_size() const override { return validation_ ? validation_->size() : train_.size(); }
  ValidationReport validate(const Model& model, c10::Device device, TrainHooks& hooks) override;
  std::string default_metric() const override { return "top1"; }

 private:
  const ClassificationDataset& train_;
  const ClassificationDataset* validation_;
  Preprocess preprocess_;
  ClassificationTrainingOptions options_;
  std::unique_ptr<ClassificationPredictor> teacher_;
};

}  // namespace segkit
