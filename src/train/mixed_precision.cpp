#include "segkit/train/mixed_precision.h"

#include <ATen/autocast_mode.h>

#include <stdexcept>

#include "segkit/infer/inference.h"

namespace segkit {

at::ScalarType training_dtype(const std::string& precision, c10::Device device) {
  if (precision == "fp16") {
    throw std::invalid_argument(
        "precision fp16 is not offered for training (it would need loss scaling); use bf16, which has float32's range");
  }
  if (precision == "int8") {
    throw std::invalid_argument("precision int8 is for inference (predict, eval, classify); train in fp32 or bf16");
  }
  if (precision == "auto" && device.is_cuda()) return at::kBFloat16;
  if (precision != "fp32" && precision != "bf16" && precision != "auto") {
    throw std::invalid_argument("unknown precision '" + precision + "' (fp32, bf16 or auto)");
  }
  return inference_dtype(precision, device);
}

AutocastGuard::AutocastGuard(c10::Device device, at::ScalarType dtype) {
  if (dtype == at::kFloat) return;
  active_ = true;
  cuda_ = device.is_cuda();
  if (cuda_) {
    was_enabled_ = at::autocast::is_enabled();
    previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(true);
  } else {
    was_enabled_ = at::autocast::is_cpu_enabled();
    previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(true);
  }
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // As torch.autocast's exit: the outermost guard drops the cached casts of the weights.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cuda_) {
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(previous_dtype_);
  } else {
    at::autocast::set_cpu_enabled(was_enabled_);
    at::autocast::set_autocast_cpu_dtype(previous_dtype_);
  }
}

}  // namespace segkit
