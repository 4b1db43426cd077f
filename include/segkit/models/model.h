#pragma once

// What every model is, by task. In inference a model answers in its task's words
// (semantic logits; class logits; per-image instances); in training it scores itself
// against its targets and returns named losses, so that a trainer sums a dictionary
// and never needs to know what a model computes.

#include <torch/nn/module.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "segkit/losses/loss_options.h"

namespace segkit {

enum class Task { kSemantic, kClassification, kInstance };

/// "semantic", "classification", "instance".
const char* task_name(Task task);

/// A semantic segmentation model's answer.
struct SemanticOutput {
  /// N x classes x h x w: at the input's size, or smaller for a model that loses a border.
  at::Tensor logits;
  /// The same from the aux head; undefined unless asked for.
  at::Tensor aux;
};

/// A classifier's answer.
struct ClassificationOutput {
  at::Tensor logits;            ///< N x classes
  std::vector<at::Tensor> aux;  ///< the auxiliary classifiers' logits, in training only (GoogLeNet)
};

/// One image's instances (the instance-segmentation task).
struct Instances {
  at::Tensor boxes;   ///< K x 4 float, (x1, y1, x2, y2) in the image's pixels
  at::Tensor labels;  ///< K int64 classes
  at::Tensor scores;  ///< K float, in inference
  at::Tensor masks;   ///< K x H x W float in [0, 1] at the image's size (targets: 0/1)
};

/// What a batch is scored against in training; each task reads its own fields.
struct Targets {
  at::Tensor masks;                  ///< semantic: N x H x W class indices (ignore index kept)
  at::Tensor pixel_weights;          ///< semantic, optional: N x H x W loss weights (the U-Net weight map)
  at::Tensor labels;                 ///< classification: N class indices, or N x C probabilities (mixup, cutmix)
  at::Tensor teacher_logits;         ///< classification, optional: a teacher's N x C logits to distil
  std::vector<Instances> instances;  ///< instance: per image boxes, labels and masks
};

/// Named losses ("loss_seg", "loss_aux", "loss_cls", "loss_distill"), each already weighted.
using LossMap = std::map<std::string, at::Tensor>;

/// The sum of the losses: what training minimizes.
at::Tensor sum_losses(const LossMap& losses);

class ModelImpl : public torch::nn::Module {
 public:
  virtual Task task() const = 0;
  virtual int64_t num_classes() const = 0;
  virtual int64_t in_channels() const { return 3; }
  /// Training: the model's own named losses for `images` against `targets`.
  virtual LossMap losses(const at::Tensor& images, const Targets& targets, const LossOptions& options) = 0;
  /// The top-level modules that make up the head(s); everything else is the backbone.
  virtual std::vector<std::string> head_modules() const = 0;
  /// Names a FeatureTap can record (Grad-CAM's layers), in forward order.
  virtual std::vector<std::string> layer_names() const = 0;
};
using Model = std::shared_ptr<ModelImpl>;

/// Hands `model` over as its task's type, for a predictor that takes it over: the result
/// holds the reference and `model` is left empty; null (and `model` kept) if it is no T.
template <typename T>
std::shared_ptr<T> take_as(Model& model) {
  std::shared_ptr<T> typed = std::dynamic_pointer_cast<T>(model);
  if (typed) model.reset();
  return typed;
}

/// A model's parameters split by head_modules(), for per-part learning rates and freezing.
struct ParameterGroups {
  std::vector<at::Tensor> backbone;
  std::vector<at::Tensor> head;
};
ParameterGroups parameter_groups(const ModelImpl& model);

}  // namespace segkit
