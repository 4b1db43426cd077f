#include "segkit/models/classifiers/image_classifier.h"

#include <ATen/ATen.h>

#include "segkit/losses/classification_loss.h"

namespace segkit {

LossMap ClassifierImpl::losses(const at::Tensor& images, const Targets& targets, const LossOptions& options) {
  TORCH_CHECK(targets.labels.defined(), "classification trains on labels");
  const ClassificationOutput out = forward(images);
  const double alpha = targets.teacher_logits.defined() ? options.distill_alpha : 0.0;
  LossMap losses{{"loss_cls", (1 - alpha) * classification_loss(out.logits, targets.labels, options)}};
  for (size_t i = 0; i < out.aux.size(); ++i) {
    losses["loss_aux" + std::to_string(i + 1)] =
        options.aux_weight * classification_loss(out.aux[i], targets.labels, options);
  }
  if (alpha > 0) {
    losses["loss_distill"] = alpha * distillation_loss(out.logits, targets.teacher_logits, options.distill_temperature);
  }
  return losses;
}

ImageClassifierImpl::ImageClassifierImpl(Backbone backbone, const std::string& backbone_module, NamedHead head,
                                         std::vector<NamedHead> aux, int64_t num_classes)
    : backbone_(std::move(backbone)),
      flattened_(backbone_module.empty()),
      head_(std::move(head)),
      aux_(std::move(aux)),
      num_classes_(num_classes) {
  if (flattened_) {
    for (const auto& child : backbone_->named_children()) register_module(child.key(), child.value());
  } else {
    register_module(backbone_module, backbone_);
  }
  register_module(head_.module, head_.head);
  std::vector<std::string> wanted = head_.head->in_features();
  for (auto& a : aux_) {
    register_module(a.module, a.head);
    for (const auto& name : a.head->in_features()) {
      if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) wanted.push_back(name);
    }
  }
  backbone_->set_out_features(wanted);
}

ClassificationOutput ImageClassifierImpl::forward(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == 3, "expected an N x 3 x H x W batch, got ", x.sizes());
  const FeatureMap features = backbone_->forward(x);
  ClassificationOutput out;
  out.logits = head_.head->forward(features);
  if (is_training()) {
    for (auto& a : aux_) out.aux.push_back(a.head->forward(features));
  }
  return out;
}

std::vector<std::string> ImageClassifierImpl::head_modules() const {
  std::vector<std::string> names{head_.module};
  for (const auto& a : aux_) names.push_back(a.module);
  return names;
}

void ImageClassifierImpl::train(bool on) {
  ClassifierImpl::train(on);
  if (flattened_) backbone_->train(on);  // not a child when its stages are registered here
}

void ImageClassifierImpl::optimize_for_inference(const InferenceOptions& options) {
  // The backbone's own rewrites (ResNet's stem); its children are rewritten as ours.
  if (!flattened_) return;
  if (auto* own = dynamic_cast<InferenceOptimizable*>(backbone_.get())) own->optimize_for_inference(options);
}

}  // namespace segkit
