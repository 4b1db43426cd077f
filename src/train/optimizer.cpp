#include "segkit/train/optimizer.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include <cmath>

#include "segkit/core/errors.h"

namespace segkit {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<ParameterGroup>& groups,
                                                        const OptimizerOptions& o) {
  if (!(o.lr > 0)) fail("the learning rate must be positive, got ", o.lr);
  std::vector<torch::optim::OptimizerParamGroup> parameters;
  for (const auto& group : groups) {
    if (!group.parameters.empty()) parameters.emplace_back(group.parameters);
  }
  if (parameters.empty()) fail("nothing to train: every parameter is frozen");
  switch (o.kind) {
    case OptimizerKind::kSGD:
      return std::make_unique<torch::optim::SGD>(
          parameters,
          torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.nesterov).weight_decay(o.weight_decay));
    case OptimizerKind::kAdam:
      return std::make_unique<torch::optim::Adam>(
          parameters,
          torch::optim::AdamOptions(o.lr).betas(std::make_tuple(o.beta1, o.beta2)).weight_decay(o.weight_decay));
    case OptimizerKind::kAdamW:
      return std::make_unique<torch::optim::AdamW>(
          parameters,
          torch::optim::AdamWOptions(o.lr).betas(std::make_tuple(o.beta1, o.beta2)).weight_decay(o.weight_decay));
  }
  return nullptr;
}

double learning_rate(const ScheduleOptions& s, double base_lr, int64_t iter, int64_t total_iters,
                     int64_t iters_per_epoch) {
  constexpr double kPi = 3.14159265358979323846;
  const double t = std::min(1.0, static_cast<double>(iter) / std::max<int64_t>(total_iters, 1));
  double lr = base_lr;
  switch (s.kind) {
    case ScheduleKind::kConstant: break;
    case ScheduleKind::kPoly: lr = base_lr * std::pow(1 - t, s.power); break;
    case ScheduleKind::kCosine:
      lr = base_lr * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + std::cos(kPi * t)));
      break;
    case ScheduleKind::kStep: {
      const int64_t epoch = iter / std::max<int64_t>(iters_per_epoch, 1);
      lr = base_lr * std::pow(s.gamma, static_cast<double>(epoch / std::max<int64_t>(s.step_epochs, 1)));
      break;
    }
  }
  if (iter < s.warmup_iters) {
    const double alpha = static_cast<double>(iter) / s.warmup_iters;
    lr *= s.warmup_factor * (1 - alpha) + alpha;
  }
  return lr;
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr, const std::vector<double>& scales) {
  auto& groups = optimizer.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(lr * (i < scales.size() ? scales[i] : 1.0));
}

}  // namespace segkit
