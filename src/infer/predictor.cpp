#include "segkit/infer/predictor.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "segkit/ops/resized_argmax.h"

namespace segkit {

Predictor::Predictor(Segmentor model, Preprocess preprocess, c10::Device device)
    : Predictor(std::move(model), preprocess, device, default_inference_options(device)) {}

Predictor::Predictor(Segmentor model, Preprocess preprocess, c10::Device device, const InferenceOptions& options)
    : model_(std::move(model)), preprocess_(preprocess), device_(device), options_(options) {
  adopt_for_inference(*model_, model_.use_count(), device_, options);
}

at::Tensor Predictor::forward(const at::Tensor& batch) {
  c10::InferenceMode guard;
  return model_->forward(model_input(batch, device_, options_)).logits.to(at::kFloat);
}

std::vector<at::Tensor> Predictor::run(const PreparedBatch& prepared) {
  c10::InferenceMode guard;
  std::vector<at::Tensor> logits(prepared.size());
  for (size_t g = 0; g < prepared.groups.size(); ++g) {
    const at::Tensor out = forward(prepared.inputs[g]);
    for (size_t k = 0; k < prepared.groups[g].size(); ++k) logits[prepared.groups[g][k]] = out[k];
  }
  return logits;
}

Prediction Predictor::finish(const at::Tensor& logits, const Image& image) {
  c10::InferenceMode guard;
  return {logits.cpu(), resized_argmax(logits, image.height(), image.width())};
}

std::vector<Prediction> Predictor::predict(const std::vector<Image>& images) {
  const std::vector<at::Tensor> logits = run(prepare(images));
  std::vector<Prediction> predictions;
  for (size_t i = 0; i < images.size(); ++i) predictions.push_back(finish(logits[i], images[i]));
  return predictions;
}

}  // namespace segkit
