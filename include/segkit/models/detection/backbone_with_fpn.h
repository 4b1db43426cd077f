#pragma once

// A backbone with a feature pyramid on top, as torchvision's BackboneWithFPN: the backbone's
// chosen stages ("body": layer1..layer4 for a ResNet) feed a FeaturePyramid ("fpn"), whose
// levels "0", "1", ... and "pool" the detection heads read. Module names are torchvision's,
// so "backbone.body.layer1.0.conv1.weight" and "backbone.fpn.inner_blocks.0.0.weight" load
// as they are.

#include <string>
#include <vector>

#include "segkit/models/backbones/backbone.h"
#include "segkit/models/necks/fpn.h"

namespace segkit {

class BackboneWithFPNImpl : public torch::nn::Module {
 public:
  /// `stages`: the body's stages that feed the pyramid, finest first.
  BackboneWithFPNImpl(Backbone body, const std::vector<std::string>& stages, int64_t out_channels = 256);

  /// The pyramid's levels, finest first, then "pool".
  std::vector<at::Tensor> forward(const at::Tensor& images);

  /// Level names in forward()'s order ("0", ..., "pool").
  std::vector<std::string> level_names() const { return fpn->output_names(); }
  int64_t out_channels() const { return fpn->options.out_channels(); }

  Backbone body;
  FeaturePyramid fpn{nullptr};
};
TORCH_MODULE(BackboneWithFPN);

/// torchvision's resnet_fpn_backbone: a ResNet (resnet50, resnet101, ...) with layer1..layer4
/// into a 256-channel pyramid with the extra max-pooled level.
BackboneWithFPN resnet_fpn_backbone(const std::string& resnet);

}  // namespace segkit
