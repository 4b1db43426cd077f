#include "segkit/infer/classification_predictor.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

namespace segkit {

ClassificationPredictor::ClassificationPredictor(Classifier model, Preprocess preprocess, c10::Device device)
    : ClassificationPredictor(std::move(model), preprocess, device, default_inference_options(device)) {}

ClassificationPredictor::ClassificationPredictor(Classifier model, Preprocess preprocess, c10::Device device,
                                                 const InferenceOptions& options)
    : model_(std::move(model)), preprocess_(preprocess), device_(device), options_(options) {
  adopt_for_inference(*model_, model_.use_count(), device_, options);
}

at::Tensor ClassificationPredictor::forward(const at::Tensor& batch) {
  c10::InferenceMode guard;
  return model_->forward(model_input(batch, device_, options_)).logits.to(at::kFloat);
}

at::Tensor ClassificationPredictor::run(const PreparedBatch& prepared) {
  c10::InferenceMode guard;
  at::Tensor result = at::empty({static_cast<int64_t>(prepared.size()), model_->num_classes()}, at::kFloat);
  for (size_t g = 0; g < prepared.groups.size(); ++g) {
    const at::Tensor probs = at::softmax(forward(prepared.inputs[g]).to(at::kCPU, at::kFloat), 1);
    const auto& members = prepared.groups[g];
    for (size_t k = 0; k < members.size(); ++k) result[static_cast<int64_t>(members[k])].copy_(probs[k]);
  }
  return result;
}

std::vector<TopClasses> top_classes(const at::Tensor& probabilities, int64_t k) {
  const int64_t n = probabilities.size(0);
  k = std::min(k, probabilities.size(1));
  const auto [values, indices] = probabilities.to(at::kDouble).topk(k, 1);
  std::vector<TopClasses> result(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      result[static_cast<size_t>(i)].classes.push_back(indices[i][j].item<int64_t>());
      result[static_cast<size_t>(i)].probabilities.push_back(values[i][j].item<double>());
    }
  }
  return result;
}

}  // namespace segkit
