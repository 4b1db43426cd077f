#include "segkit/layers/stochastic_depth.h"

#include <ATen/ATen.h>

namespace segkit {

at::Tensor stochastic_depth(const at::Tensor& x, double p, bool training) {
  TORCH_CHECK(p >= 0 && p <= 1, "drop probability must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  const double survival = 1 - p;
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  at::Tensor keep = at::empty(shape, x.options()).bernoulli_(survival);
  if (survival > 0) keep.div_(survival);
  return x * keep;
}

}  // namespace segkit
