#pragma once

// The training loop, for any task: batches made on worker threads by the task, the
// model's named losses summed, an optimizer and its schedule owned for the whole run,
// validation every N epochs, and checkpoints written atomically so that a run killed
// at any moment resumes exactly.

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <map>
#include <optional>
#include <string>

#include "segkit/losses/loss_options.h"
#include "segkit/models/checkpoint_info.h"
#include "segkit/models/model.h"
#include "segkit/train/optimizer.h"
#include "segkit/train/training_task.h"

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
  /// Stop within one step of this many seconds (0: no limit): after the step that passes
  /// it, last.pth gets the weights so far, resume.pt stays at the last whole epoch.
  double time_limit_s = 0;
  LossOptions loss;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  /// Transfer learning: the backbone's parameters frozen (and its BatchNorm statistics
  /// kept), or trained at this fraction of the learning rate.
  bool freeze_backbone = false;
  double backbone_lr_scale = 1;
  /// The validation metric best.pth is chosen by (empty: the task's default).
  std::string best_metric;
  /// Where last.pth, best.pth, resume.pt and metrics.jsonl go.
  std::string output_dir = "runs/train";
  /// Continue from output_dir/resume.pt if it exists.
  bool resume = false;
  c10::Device device = c10::Device("cpu");
  /// What best.pth and last.pth record beside the weights (see CheckpointInfo).
  CheckpointInfo info;
  /// CPU: weights and batches channels-last (oneDNN's faster layout there, for training too:
  /// bench/RESULTS.md). Values are the same either way; only speed differs.
  bool channels_last = false;
  /// What the forward pass computes in: float32, or bfloat16 under autocast with float32
  /// master weights and losses (see mixed_precision.h). Checkpoints stay float32.
  at::ScalarType dtype = at::kFloat;
};

struct EpochReport {
  int64_t epoch = 0;                     ///< 1-based
  double loss = 0;                       ///< mean of the summed loss over the epoch's steps
  std::map<std::string, double> losses;  ///< each named loss's mean
  double lr = 0;
  double seconds = 0;
  double images_per_second = 0;
  /// Of `seconds`, the time the training step waited for the batch makers (a starved step).
  double data_wait_seconds = 0;
  std::optional<ValidationReport> validation;
  bool best = false;
};

struct StepReport {
  int64_t epoch = 0, epochs = 0;  ///< 1-based
  int64_t step = 0, steps = 0;    ///< 1-based, within the epoch
  double loss = 0;                ///< the epoch's mean so far
  double images_per_second = 0;
  /// Seconds until the run ends, the validations still to come included (estimated
  /// from the training rate until the first one has been timed).
  double eta_seconds = 0;
};

/// How the trainer reports; the command line draws a progress bar and writes logs.
class TrainHooks {
 public:
  virtual ~TrainHooks() = default;
  virtual void on_step(const StepReport& /*report*/) {}
  /// During validation, after each image or batch.
  virtual void on_validation(size_t /*done*/, size_t /*total*/) {}
  /// During another long step (the U-Net weight maps), a few times a second.
  virtual void on_progress(const std::string& /*what*/, size_t /*done*/, size_t /*total*/) {}
  virtual void on_epoch(const EpochReport& /*report*/) {}
  virtual void on_message(const std::string& /*text*/) {}
};

class Trainer {
 public:
  Trainer(Model model, TrainingTask& task, TrainOptions options, TrainHooks& hooks);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// Trains from epoch 1, or from the checkpoint when resuming, to options.epochs.
  void run();

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace segkit
