#pragma once

#include <memory>

#include "segkit/models/backbones/backbone.h"
#include "segkit/models/heads/head.h"

namespace segkit {

/// Logits at the input's resolution, N x classes x H x W.
struct SegmentationOutput {
  at::Tensor out;
  at::Tensor aux;  ///< from the aux head; undefined unless asked for
};

/// Backbone, classifier head and optional aux head, as torchvision's
/// _SimpleSegmentationModel (modules "backbone", "classifier", "aux_classifier").
/// The one place where logits are resized back to the input size.
class EncoderDecoderImpl : public torch::nn::Module {
 public:
  EncoderDecoderImpl(std::shared_ptr<BackboneImpl> backbone, std::shared_ptr<HeadImpl> classifier,
                     std::shared_ptr<HeadImpl> aux_classifier = nullptr);

  /// Runs the aux head only when `with_aux` is set (training asks for it); inference skips it.
  SegmentationOutput forward(const at::Tensor& x, bool with_aux = false);
  bool has_aux() const { return aux_classifier_ != nullptr; }

 private:
  std::shared_ptr<BackboneImpl> backbone_;
  std::shared_ptr<HeadImpl> classifier_;
  std::shared_ptr<HeadImpl> aux_classifier_;
};
TORCH_MODULE(EncoderDecoder);

}  // namespace segkit
