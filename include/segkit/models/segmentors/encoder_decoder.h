#pragma once

#include <memory>

#include "segkit/models/backbones/backbone.h"
#include "segkit/models/heads/head.h"
#include "segkit/models/segmentors/segmentor.h"

namespace segkit {

/// Backbone, classifier head and optional aux head, as torchvision's
/// _SimpleSegmentationModel (modules "backbone", "classifier", "aux_classifier").
/// The one place where logits are resized back to the input size.
class EncoderDecoderImpl : public SegmentorImpl {
 public:
  EncoderDecoderImpl(std::shared_ptr<BackboneImpl> backbone, std::shared_ptr<HeadImpl> classifier,
                     std::shared_ptr<HeadImpl> aux_classifier = nullptr);

  SegmentationOutput forward(const at::Tensor& x, bool with_aux = false) override;
  bool has_aux() const override { return aux_classifier_ != nullptr; }

 private:
  std::shared_ptr<BackboneImpl> backbone_;
  std::shared_ptr<HeadImpl> classifier_;
  std::shared_ptr<HeadImpl> aux_classifier_;
};
TORCH_MODULE(EncoderDecoder);

}  // namespace segkit
