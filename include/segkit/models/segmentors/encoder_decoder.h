#pragma once

#include <memory>

#include "segkit/models/backbones/backbone.h"
#include "segkit/models/heads/head.h"
#include "segkit/models/segmentors/segmentor.h"

namespace segkit {

/// Backbone, classifier head and optional aux head, as torchvision's
/// _SimpleSegmentationModel (modules "backbone", "classifier", "aux_classifier").
/// The backbone returns what the heads read; the one place where logits are resized
/// back to the input size.
class EncoderDecoderImpl : public SegmentorImpl {
 public:
  EncoderDecoderImpl(Backbone backbone, Head classifier, Head aux_classifier, int64_t num_classes);

  SemanticOutput forward(const at::Tensor& x, bool with_aux = false) override;
  at::Tensor unresized_logits(const at::Tensor& x) override;
  bool has_aux() const override { return aux_classifier_ != nullptr; }
  int64_t num_classes() const override { return num_classes_; }
  std::vector<std::string> head_modules() const override { return {"classifier", "aux_classifier"}; }
  std::vector<std::string> layer_names() const override { return backbone_->stage_names(); }
  const Backbone& backbone() const { return backbone_; }

 private:
  Backbone backbone_;
  Head classifier_;
  Head aux_classifier_;
  int64_t num_classes_;
};
TORCH_MODULE(EncoderDecoder);

}  // namespace segkit
