#pragma once

// What the training loop asks of a task. The loop (train/trainer) owns the model,
// optimizer, schedule, checkpoints and resume; a task owns its data, how batches and
// their targets are made, and how the model is validated. Neither knows the other's
// internals: the loop sums the model's named losses and reads named metrics.

#include <c10/core/Device.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "segkit/models/model.h"

namespace segkit {

/// Images and what they are scored against.
struct TrainingBatch {
  at::Tensor images;
  Targets targets;
};

/// Which samples make a batch and where the randomness for each comes from.
struct BatchPlan {
  uint64_t seed = 0;
  int64_t epoch = 0;               ///< 0-based
  int64_t step = 0;                ///< 0-based within the epoch
  std::vector<size_t> samples;     ///< indices into the training data
  std::vector<int64_t> positions;  ///< each sample's position in the epoch
};

/// A random engine for one purpose, from (seed, a, b, c): the same numbers whatever
/// thread makes the batch and whenever, so that runs and resumed runs repeat exactly.
std::mt19937_64 make_rng(uint64_t seed, int64_t a, int64_t b, int64_t c);

/// Named measures of a validation pass; lower is better for names ending in "error".
struct ValidationReport {
  std::map<std::string, double> metrics;
  std::string json;     ///< the whole report as a JSON object, for the log
  std::string summary;  ///< one line for the progress output
};

bool lower_is_better(const std::string& metric);

class TrainHooks;

class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  /// Samples in one pass over the training data.
  virtual size_t size() const = 0;
  /// Once before the first epoch (the U-Net weight maps).
  virtual void prepare(int64_t /*workers*/, TrainHooks& /*hooks*/) {}
  /// The batch `plan` describes; runs on loader threads, so it must not touch the model.
  virtual TrainingBatch make_batch(const BatchPlan& plan) const = 0;
  /// On the training thread, the batch on `device`: targets that need a network (a
  /// distillation teacher's logits).
  virtual void complete_targets(TrainingBatch& /*batch*/) {}
  /// Samples in one validation pass.
  virtual size_t validation_size() const = 0;
  /// Measures `model` (borrowed in eval mode, unchanged) on the validation data, telling
  /// `hooks` how far it is.
  virtual ValidationReport validate(const Model& model, c10::Device device, TrainHooks& hooks) = 0;
  /// The metric best.pth is chosen by, when the user names none.
  virtual std::string default_metric() const = 0;
};

}  // namespace segkit
