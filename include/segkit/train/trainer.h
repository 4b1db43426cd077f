#pragma once

// The training loop: batches made on worker threads, a loss, an optimizer and its
// schedule owned for the whole run, validation every N epochs, and checkpoints
// written atomically so that a run killed at any moment resumes exactly.

#include <c10/core/Device.h>

#include <optional>
#include <string>

#include "segkit/data/augment.h"
#include "segkit/data/dataset.h"
#include "segkit/eval/metrics.h"
#include "segkit/losses/segmentation_loss.h"
#include "segkit/losses/unet_weight_map.h"
#include "segkit/models/segmentors/segmentor.h"
#include "segkit/train/optimizer.h"

namespace segkit {

struct TrainOptions {
  int64_t epochs = 50;
  int64_t batch_size = 4;
  /// Samples per epoch (0: the dataset's size); lets small datasets have longer epochs.
  int64_t epoch_size = 0;
  /// Threads that make batches ahead of the training step.
  int64_t workers = 2;
  uint64_t seed = 0;
  /// Validate every this many epochs (and after the last); 0: never.
  int64_t val_every = 1;
  /// Stop after the epoch during which this many seconds passed (0: no limit).
  double time_limit_s = 0;
  /// Aux-head loss weight (models with an aux head).
  double aux_weight = 0.4;
  /// The U-Net weight map as pixel weights of the loss.
  bool weight_map = false;
  WeightMapOptions weight_map_options;
  AugmentOptions augment;
  LossOptions loss;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  /// "miou" (higher is better), "pixel_error" or "rand_error" (lower is better).
  std::string best_metric = "miou";
  /// Where last.pth, best.pth, resume.pt and metrics.jsonl go.
  std::string output_dir = "runs/train";
  /// Continue from output_dir/resume.pt if it exists.
  bool resume = false;
  c10::Device device = c10::Device("cpu");
};

struct EpochReport {
  int64_t epoch = 0;  ///< 1-based
  double loss = 0;
  double lr = 0;
  double seconds = 0;
  double images_per_second = 0;
  std::optional<EvalReport> validation;
  bool best = false;
};

/// How the trainer reports; the command line draws a progress bar and writes logs.
class TrainHooks {
 public:
  virtual ~TrainHooks() = default;
  virtual void on_step(int64_t /*epoch*/, int64_t /*step*/, int64_t /*steps*/, double /*loss*/,
                       double /*images_per_second*/) {}
  virtual void on_epoch(const EpochReport& /*report*/) {}
  virtual void on_message(const std::string& /*text*/) {}
};

class Trainer {
 public:
  Trainer(Segmentor model, Preprocess preprocess, const SegmentationDataset& train,
          const SegmentationDataset* validation, TrainOptions options, TrainHooks& hooks);
  ~Trainer();

  /// Trains from epoch 1, or from the checkpoint when resuming, to options.epochs.
  void run();
  /// Validation metrics of the current weights.
  EvalReport validate();

 private:
  struct Impl;
  Impl* impl_;
};

/// A metric's value in a report, where lower is better for errors.
double metric_value(const EvalReport& report, const std::string& metric);
bool metric_lower_is_better(const std::string& metric);

}  // namespace segkit
