#pragma once

#include <torch/optim/optimizer.h>

#include <memory>
#include <vector>

namespace segkit {

enum class OptimizerKind { kSGD, kAdam, kAdamW };

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdam;
  double lr = 1e-3;
  double momentum = 0.9;  ///< SGD
  bool nesterov = false;  ///< SGD
  double weight_decay = 0;
  double beta1 = 0.9, beta2 = 0.999;  ///< Adam, AdamW
};

/// Parameters that share a learning rate, as a multiple of the schedule's.
struct ParameterGroup {
  std::vector<at::Tensor> parameters;
  double lr_scale = 1;
};

/// One optimizer over the groups (empty groups are left out).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<ParameterGroup>& groups,
                                                        const OptimizerOptions& options);

enum class ScheduleKind { kConstant, kPoly, kCosine, kStep };

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::kPoly;
  double power = 0.9;        ///< poly: (1 - t/T)^power
  int64_t step_epochs = 30;  ///< step: multiply by gamma every step_epochs epochs
  double gamma = 0.1;        ///< step
  double min_lr_ratio = 0;   ///< cosine: floor as a fraction of the base rate
  int64_t warmup_iters = 0;  ///< linear warm-up from warmup_factor * lr
  double warmup_factor = 1e-3;
};

/// The learning rate for iteration `iter` (0-based) of `total_iters`.
double learning_rate(const ScheduleOptions& schedule, double base_lr, int64_t iter, int64_t total_iters,
                     int64_t iters_per_epoch);

/// Sets each parameter group's learning rate to lr times its scale (in make_optimizer's order).
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& scales);

}  // namespace segkit
