#pragma once

// Mixed-precision training: the forward pass of each step under autocast, so that convolutions
// and matrix products compute in bfloat16 from float32 master weights, the losses in float32
// (bfloat16 has float32's exponent range: no loss scaling is needed, unlike float16).

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace segkit {

/// What a training step's forward pass computes in for a --precision of "fp32", "bf16" or "auto"
/// (bf16 where the CPU computes it natively, and on CUDA; else fp32). "fp16" is refused: it
/// would need loss scaling. Throws std::invalid_argument naming the valid choices.
at::ScalarType training_dtype(const std::string& precision, c10::Device device);

/// Autocast to `dtype` on `device` for the guard's lifetime (nothing for float32); the previous
/// state is restored and the casts of the weights cached during the pass are dropped on exit.
/// Run the forward pass and the losses inside, the backward pass after.
class AutocastGuard {
 public:
  AutocastGuard(c10::Device device, at::ScalarType dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kFloat;
};

}  // namespace segkit
