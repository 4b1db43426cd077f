#pragma once

#include <optional>
#include <string>
#include <vector>

#include "segkit/layers/conv_bn.h"
#include "segkit/models/backbones/backbone.h"
#include "segkit/models/classifiers/classifier.h"
#include "segkit/models/heads/head.h"

namespace segkit {

/// A head and the module name it is registered under ("fc", "classifier", "aux1").
struct NamedHead {
  std::string module;
  Head head;
};

/// A backbone and a classifier head, plus auxiliary heads that run in training only,
/// registered under torchvision's names: the backbone as `backbone_module` ("features"),
/// or with its stages at the top level when that is empty (ResNet's conv1 ... layer4
/// beside fc), so that torchvision's ImageNet checkpoints load key for key.
class ImageClassifierImpl : public ClassifierImpl, public InferenceOptimizable {
 public:
  ImageClassifierImpl(Backbone backbone, const std::string& backbone_module, NamedHead head, std::vector<NamedHead> aux,
                      int64_t num_classes);

  ClassificationOutput forward(const at::Tensor& x) override;
  int64_t num_classes() const override { return num_classes_; }
  std::vector<std::string> head_modules() const override;
  std::vector<std::string> layer_names() const override { return backbone_->stage_names(); }
  void train(bool on = true) override;
  void optimize_for_inference(const InferenceOptions& options) override;

  const Backbone& backbone() const { return backbone_; }
  const Head& head() const { return head_.head; }

 private:
  Backbone backbone_;
  bool flattened_;
  NamedHead head_;
  std::vector<NamedHead> aux_;
  int64_t num_classes_;
};
TORCH_MODULE(ImageClassifier);

}  // namespace segkit
