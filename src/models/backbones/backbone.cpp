#include "segkit/models/backbones/backbone.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "segkit/core/errors.h"
#include "segkit/models/feature_tap.h"

namespace segkit {

void BackboneImpl::add_stage(const std::string& name, std::function<at::Tensor(const at::Tensor&)> run,
                             ShapeSpec shape) {
  stages_.push_back({name, std::move(run)});
  shapes_[name] = shape;
  out_features_ = {name};
  stages_needed_ = stages_.size();
}

std::vector<std::string> BackboneImpl::stage_names() const {
  std::vector<std::string> names;
  for (const auto& stage : stages_) names.push_back(stage.name);
  return names;
}

void BackboneImpl::set_out_features(const std::vector<std::string>& names) {
  if (names.empty()) fail(name_, ": no features asked for");
  size_t needed = 0;
  for (const auto& wanted : names) {
    auto it = std::find_if(stages_.begin(), stages_.end(), [&](const Stage& s) { return s.name == wanted; });
    if (it == stages_.end()) {
      std::string valid;
      for (const auto& s : stages_) valid += (valid.empty() ? "" : ", ") + s.name;
      fail(name_, " has no feature \"", wanted, "\" (valid: ", valid, ")");
    }
    needed = std::max(needed, static_cast<size_t>(it - stages_.begin()) + 1);
  }
  out_features_ = names;
  stages_needed_ = needed;
}

FeatureMap BackboneImpl::forward(const at::Tensor& x) {
  FeatureMap features;
  at::Tensor out = x;
  for (size_t i = 0; i < stages_needed_; ++i) {
    const Stage& stage = stages_[i];
    out = stage.run(out);
    tap(stage.name, out);
    if (std::find(out_features_.begin(), out_features_.end(), stage.name) != out_features_.end()) {
      features[stage.name] = out;
    }
  }
  return features;
}

std::vector<bool> dilate_last_stages(int64_t output_stride, size_t stages, const std::string& backbone) {
  size_t dilated = 0;
  if (output_stride == 16) dilated = 1;
  if (output_stride == 8) dilated = 2;
  if ((output_stride != 32 && dilated == 0) || dilated > stages) {
    fail(backbone, " cannot have output stride ", output_stride, " (valid: 32", stages >= 1 ? ", 16" : "",
         stages >= 2 ? ", 8" : "", ")");
  }
  std::vector<bool> replace(stages, false);
  for (size_t i = 0; i < dilated; ++i) replace[stages - 1 - i] = true;
  return replace;
}

Backbone build_backbone(const std::string& name, const BackboneOptions& options) {
  return backbone_registry().at(name)(options);
}

}  // namespace segkit
