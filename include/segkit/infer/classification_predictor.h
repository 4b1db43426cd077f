#pragma once

#include <c10/core/Device.h>

#include <vector>

#include "segkit/infer/inference.h"
#include "segkit/models/classifiers/classifier.h"

namespace segkit {

/// One image's top classes, best first.
struct TopClasses {
  std::vector<int64_t> classes;
  std::vector<double> probabilities;
};

/// Runs an image classifier for inference: eval mode, BatchNorm folded, no aux
/// classifiers, no autograd; in float32 or InferenceOptions::dtype (softmax in float32).
class ClassificationPredictor {
 public:
  /// Takes the model over (pass it with std::move), as Predictor does.
  ClassificationPredictor(Classifier model, Preprocess preprocess, c10::Device device = c10::Device("cpu"));
  ClassificationPredictor(Classifier model, Preprocess preprocess, c10::Device device, const InferenceOptions& options);

  /// Class probabilities (N x classes, softmax, float32 on the CPU), one row per image;
  /// images of one input size run as one batch. The same as run(prepare(images)).
  at::Tensor probabilities(const std::vector<Image>& images) { return run(prepare(images)); }
  /// The preprocessing (uses no model state: any thread).
  PreparedBatch prepare(const std::vector<Image>& images) const { return prepare_batch(images, preprocess_); }
  /// The network and the softmax: probabilities in the images' order.
  at::Tensor run(const PreparedBatch& prepared);
  /// Float32 logits for an already preprocessed N x 3 x h x w batch.
  at::Tensor forward(const at::Tensor& batch);
  const ClassifierImpl& model() const { return *model_; }
  const Preprocess& preprocess() const { return preprocess_; }

 private:
  Classifier model_;
  Preprocess preprocess_;
  c10::Device device_;
  InferenceOptions options_;
};

/// The k most probable classes of each row of N x classes probabilities.
std::vector<TopClasses> top_classes(const at::Tensor& probabilities, int64_t k);

}  // namespace segkit
