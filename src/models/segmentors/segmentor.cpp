#include "segkit/models/segmentors/segmentor.h"

#include <ATen/ATen.h>

#include "segkit/losses/segmentation_loss.h"

namespace segkit {

LossMap SegmentorImpl::losses(const at::Tensor& images, const Targets& targets, const LossOptions& options) {
  TORCH_CHECK(targets.masks.defined(), "semantic segmentation trains on masks");
  const SemanticOutput out = forward(images, /*with_aux=*/has_aux() && options.aux_weight > 0);
  LossMap losses{{"loss_seg", segmentation_loss(out.logits, targets.masks, targets.pixel_weights, options)}};
  if (out.aux.defined()) {
    losses["loss_aux"] = options.aux_weight * segmentation_loss(out.aux, targets.masks, targets.pixel_weights, options);
  }
  return losses;
}

const InputConstraints* input_constraints(const ModelImpl& model) {
  return dynamic_cast<const InputConstraints*>(&model);
}

}  // namespace segkit
