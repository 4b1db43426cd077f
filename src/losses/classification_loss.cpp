#include "segkit/losses/classification_loss.h"

#include <ATen/ATen.h>

#include "float32_logits.h"

namespace segkit {

at::Tensor classification_loss(const at::Tensor& logits, const at::Tensor& labels, const LossOptions& o) {
  TORCH_CHECK(
      logits.dim() == 2 && labels.size(0) == logits.size(0) && (labels.dim() == 1 || labels.sizes() == logits.sizes()),
      "logits ", logits.sizes(), " do not match labels ", labels.sizes());
  TORCH_CHECK(o.label_smoothing >= 0 && o.label_smoothing < 1, "label smoothing must be in [0, 1), got ",
              o.label_smoothing);
  // PyTorch's own: class indices or probabilities, label smoothing applied to either.
  return at::cross_entropy_loss(float32_logits(logits), labels, /*weight=*/{}, at::Reduction::Mean,
                                /*ignore_index=*/-100, o.label_smoothing);
}

at::Tensor distillation_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits, double temperature) {
  TORCH_CHECK(student_logits.sizes() == teacher_logits.sizes(), "student logits ", student_logits.sizes(),
              " and teacher logits ", teacher_logits.sizes(), " differ");
  TORCH_CHECK(temperature > 0, "the distillation temperature must be positive, got ", temperature);
  const at::Tensor log_student = at::log_softmax(float32_logits(student_logits) / temperature, 1);
  const at::Tensor log_teacher = at::log_softmax(float32_logits(teacher_logits).detach() / temperature, 1);
  return (log_teacher.exp() * (log_teacher - log_student)).sum(1).mean() * (temperature * temperature);
}

}  // namespace segkit
