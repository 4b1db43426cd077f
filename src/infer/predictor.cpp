#include "segkit/infer/predictor.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "segkit/models/heads/head.h"
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

at::Tensor NetworkLogits::resized() const {
  c10::InferenceMode guard;
  return resize_bilinear(logits.unsqueeze(0), height, width)[0];
}

std::vector<NetworkLogits> Predictor::run(const PreparedBatch& prepared) {
  c10::InferenceMode guard;
  std::vector<NetworkLogits> logits(prepared.size());
  for (size_t g = 0; g < prepared.groups.size(); ++g) {
    const at::Tensor& input = prepared.inputs[g];
    const at::Tensor out = model_->unresized_logits(model_input(input, device_, options_)).to(at::kFloat);
    const auto [height, width] = model_->output_size(input.size(2), input.size(3));
    for (size_t k = 0; k < prepared.groups[g].size(); ++k) logits[prepared.groups[g][k]] = {out[k], height, width};
  }
  return logits;
}

Prediction Predictor::finish(const NetworkLogits& logits, const Image& image, bool with_logits) {
  c10::InferenceMode guard;
  const at::Tensor mask = resized_argmax(logits.logits, logits.height, logits.width, image.height(), image.width());
  return {with_logits ? logits.resized().cpu() : at::Tensor(), mask};
}

std::vector<Prediction> Predictor::predict(const std::vector<Image>& images) {
  const std::vector<NetworkLogits> logits = run(prepare(images));
  std::vector<Prediction> predictions;
  for (size_t i = 0; i < images.size(); ++i) {
    predictions.push_back(finish(logits[i], images[i], /*with_logits=*/true));
  }
  return predictions;
}

}  // namespace segkit
