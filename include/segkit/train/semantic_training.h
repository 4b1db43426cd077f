#pragma once

// The semantic segmentation task for the training loop: image + mask pairs, joint
// augmentation, CutMix, the U-Net weight map, and validation by (tiled) inference.

#include "segkit/data/augment.h"
#include "segkit/data/dataset.h"
#include "segkit/data/preprocess.h"
#include "segkit/losses/unet_weight_map.h"
#include "segkit/train/training_task.h"

namespace segkit {

struct SemanticTrainingOptions {
  AugmentOptions augment;
  /// The U-Net paper's weight map as pixel weights of the loss.
  bool weight_map = false;
  WeightMapOptions weight_map_options;
};

class SemanticTraining : public TrainingTask {
 public:
  /// `validation` may be null (then the training images are measured).
  SemanticTraining(const SegmentationDataset& train, const SegmentationDataset* validation, Preprocess preprocess,
                   SemanticTrainingOptions options);

  size_t size() const override { return train_.size(); }
  void prepare(int64_t workers, TrainHooks& hooks) override;
  TrainingBatch make_batch(const BatchPlan& plan) const override;
  /// Mean IoU and Dice, pixel accuracy and error; for binary membrane data the ISBI 2012
  /// Rand errors ("rand_error": the challenge's definition; "rand_error_skimage").
  size_t validation_size() const override { return validation_ ? validation_->size() : train_.size(); }
  ValidationReport validate(const Model& model, c10::Device device, TrainHooks& hooks) override;
  std::string default_metric() const override { return "miou"; }

 private:
  const SegmentationDataset& train_;
  const SegmentationDataset* validation_;
  Preprocess preprocess_;
  SemanticTrainingOptions options_;
  std::vector<at::Tensor> weight_maps_;
};

}  // namespace segkit
