#include "segkit/models/heads/head.h"

#include <ATen/ATen.h>

#include "segkit/core/errors.h"

namespace segkit {

const at::Tensor& feature(const FeatureMap& features, const std::string& name) {
  auto it = features.find(name);
  if (it == features.end()) fail("the backbone did not return feature \"", name, "\"");
  return it->second;
}

at::Tensor resize_bilinear(const at::Tensor& x, int64_t height, int64_t width) {
  if (x.size(-2) == height && x.size(-1) == width) return x;
  return at::upsample_bilinear2d(x, {height, width}, /*align_corners=*/false);
}

}  // namespace segkit
