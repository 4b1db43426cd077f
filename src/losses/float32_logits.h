#pragma once

// Losses compute in float32 whatever precision the logits come in (bfloat16 under
// mixed-precision training): softmax sums and logarithms lose too much with 8 bits of mantissa.

#include <ATen/ATen.h>

namespace segkit {

inline at::Tensor float32_logits(const at::Tensor& logits) {
  const at::ScalarType type = logits.scalar_type();
  return type == at::kBFloat16 || type == at::kHalf ? logits.to(at::kFloat) : logits;
}

}  // namespace segkit
