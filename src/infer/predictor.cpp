#include "segkit/infer/predictor.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "segkit/models/heads/head.h"

namespace segkit {

Predictor::Predictor(Segmentor model, Preprocess preprocess, c10::Device device)
    : Predictor(std::move(model), preprocess, device, default_inference_options(device)) {}

Predictor::Predictor(Segmentor model, Preprocess preprocess, c10::Device device, const InferenceOptions& options)
    : model_(std::move(model)), preprocess_(preprocess), device_(device), channels_last_(options.channels_last) {
  adopt_for_inference(*model_, model_.use_count(), device_, options);
}

at::Tensor Predictor::forward(const at::Tensor& batch) {
  c10::InferenceMode guard;
  return model_->forward(model_input(batch, device_, channels_last_)).logits;
}

std::vector<Prediction> Predictor::predict(const std::vector<Image>& images) {
  std::vector<Prediction> predictions(images.size());
  c10::InferenceMode guard;
  for (const auto& [size, members] : group_by_input_size(images, preprocess_)) {
    std::vector<at::Tensor> inputs;
    for (size_t i : members) inputs.push_back(preprocess_(images[i].pixels));
    const at::Tensor logits = forward(at::stack(inputs));
    for (size_t k = 0; k < members.size(); ++k) {
      const Image& image = images[members[k]];
      at::Tensor one = logits[k];
      at::Tensor full = resize_bilinear(one.unsqueeze(0), image.height(), image.width())[0];
      predictions[members[k]] = {one.to(at::kCPU, at::kFloat), full.argmax(0).to(at::kCPU)};
    }
  }
  return predictions;
}

}  // namespace segkit
