#include "segkit/models/heads/head.h"

#include <ATen/ATen.h>

#include "segkit/core/errors.h"

namespace segkit {

const at::Tensor& HeadImpl::input(const FeatureMap& features, size_t i) const {
  const std::string& name = in_features_.at(i);
  auto it = features.find(name);
  if (it == features.end()) fail("the backbone did not return feature \"", name, "\"");
  return it->second;
}

const ShapeSpec& input_shape(const ShapeMap& shapes, const std::string& name) {
  auto it = shapes.find(name);
  if (it == shapes.end()) {
    std::string valid;
    for (const auto& [n, spec] : shapes) valid += (valid.empty() ? "" : ", ") + n;
    fail("the backbone has no feature \"", name, "\" for the head (valid: ", valid, ")");
  }
  return it->second;
}

Head build_head(const std::string& type, const HeadConfig& config, const ShapeMap& shapes) {
  return head_registry().at(type)(config, shapes);
}

at::Tensor resize_bilinear(const at::Tensor& x, int64_t height, int64_t width) {
  if (x.size(-2) == height && x.size(-1) == width) return x;
  return at::upsample_bilinear2d(x, {height, width}, /*align_corners=*/false);
}

}  // namespace segkit
