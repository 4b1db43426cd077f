#include "segkit/models/detection/backbone_with_fpn.h"

#include <ATen/ATen.h>

namespace segkit {

BackboneWithFPNImpl::BackboneWithFPNImpl(Backbone body_, const std::vector<std::string>& stages, int64_t out_channels)
    : body(std::move(body_)) {
  TORCH_CHECK(body != nullptr && !stages.empty(), "BackboneWithFPN: no backbone or no stages");
  body->set_out_features(stages);
  std::vector<int64_t> channels;
  for (const std::string& stage : stages) channels.push_back(body->output_shape().at(stage).channels);
  register_module("body", body);
  fpn = register_module("fpn", FeaturePyramid(FeaturePyramidOptions(channels).out_channels(out_channels)));
}

std::vector<at::Tensor> BackboneWithFPNImpl::forward(const at::Tensor& images) {
  const FeatureMap features = body->forward(images);
  std::vector<at::Tensor> inputs;
  for (const std::string& stage : body->out_features()) inputs.push_back(features.at(stage));
  return fpn->forward(inputs);
}

BackboneWithFPN resnet_fpn_backbone(const std::string& resnet) {
  return BackboneWithFPN(build_backbone(resnet), std::vector<std::string>{"layer1", "layer2", "layer3", "layer4"});
}

}  // namespace segkit
