#include "segkit/models/segmentors/encoder_decoder.h"

#include <ATen/ATen.h>

namespace segkit {

EncoderDecoderImpl::EncoderDecoderImpl(Backbone backbone, Head classifier, Head aux_classifier, int64_t num_classes)
    : backbone_(register_module("backbone", std::move(backbone))),
      classifier_(register_module("classifier", std::move(classifier))),
      num_classes_(num_classes) {
  std::vector<std::string> wanted = classifier_->in_features();
  if (aux_classifier) {
    aux_classifier_ = register_module("aux_classifier", std::move(aux_classifier));
    for (const auto& name : aux_classifier_->in_features()) {
      if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) wanted.push_back(name);
    }
  }
  backbone_->set_out_features(wanted);
}

at::Tensor EncoderDecoderImpl::unresized_logits(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == 3, "expected an N x 3 x H x W batch, got ", x.sizes());
  return classifier_->forward(backbone_->forward(x)).to(at::kFloat);
}

SemanticOutput EncoderDecoderImpl::forward(const at::Tensor& x, bool with_aux) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == 3, "expected an N x 3 x H x W batch, got ", x.sizes());
  const int64_t height = x.size(2);
  const int64_t width = x.size(3);
  const FeatureMap features = backbone_->forward(x);
  SemanticOutput result;
  // Resized in float32 whatever the model computes in: more accurate, and LibTorch's bfloat16
  // bilinear resize is the slower of the two.
  result.logits = resize_bilinear(classifier_->forward(features).to(at::kFloat), height, width);
  if (with_aux && aux_classifier_) {
    result.aux = resize_bilinear(aux_classifier_->forward(features).to(at::kFloat), height, width);
  }
  return result;
}

}  // namespace segkit
