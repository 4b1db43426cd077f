#include "segkit/models/segmentors/encoder_decoder.h"

#include <ATen/ATen.h>

#include "segkit/core/errors.h"

namespace segkit {

EncoderDecoderImpl::EncoderDecoderImpl(std::shared_ptr<BackboneImpl> backbone, std::shared_ptr<HeadImpl> classifier,
                                       std::shared_ptr<HeadImpl> aux_classifier)
    : backbone_(register_module("backbone", std::move(backbone))),
      classifier_(register_module("classifier", std::move(classifier))) {
  if (aux_classifier) aux_classifier_ = register_module("aux_classifier", std::move(aux_classifier));
}

SegmentationOutput EncoderDecoderImpl::forward(const at::Tensor& x, bool with_aux) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == 3, "expected an N x 3 x H x W batch, got ", x.sizes());
  const int64_t height = x.size(2);
  const int64_t width = x.size(3);
  const FeatureMap features = backbone_->forward(x);
  SegmentationOutput result;
  result.out = resize_bilinear(classifier_->forward(features), height, width);
  if (with_aux && aux_classifier_) result.aux = resize_bilinear(aux_classifier_->forward(features), height, width);
  return result;
}

}  // namespace segkit
