#pragma once

#include <ATen/Tensor.h>

#include "segkit/losses/loss_options.h"

namespace segkit {

/// Cross-entropy of N x C logits against N class indices or N x C class probabilities
/// (mixup, cutmix), with options.label_smoothing applied to either as PyTorch's
/// cross_entropy(label_smoothing=) does.
at::Tensor classification_loss(const at::Tensor& logits, const at::Tensor& labels, const LossOptions& options);

/// Hinton et al.'s distillation term: T^2 KL(softmax(teacher / T) || softmax(student / T)),
/// averaged over the batch.
at::Tensor distillation_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits, double temperature);

}  // namespace segkit
