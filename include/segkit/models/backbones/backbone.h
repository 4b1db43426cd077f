#pragma once

#include <torch/nn/module.h>

#include <map>
#include <string>
#include <vector>

namespace segkit {

/// What a feature map holds: its channel count and its stride relative to the input.
struct ShapeSpec {
  int64_t channels = 0;
  int64_t stride = 1;
};

/// Named feature maps, e.g. {"layer3": ..., "layer4": ...}.
using FeatureMap = std::map<std::string, at::Tensor>;

/// A network that turns an image batch into named feature maps and describes them as data,
/// so that heads are built from output_shape(), never from a table of channel counts.
class BackboneImpl : public torch::nn::Module {
 public:
  /// Returns the features named in the backbone's out_features.
  virtual FeatureMap forward(const at::Tensor& x) = 0;
  /// Channels and stride of every feature this backbone can return.
  virtual std::map<std::string, ShapeSpec> output_shape() const = 0;
};

/// Checks that every requested feature exists; throws naming the valid ones otherwise.
void check_out_features(const std::vector<std::string>& requested, const std::map<std::string, ShapeSpec>& available,
                        const std::string& backbone);

}  // namespace segkit
