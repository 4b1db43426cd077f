#include "segkit/infer/predictor.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <map>

#include "segkit/layers/conv_bn.h"
#include "segkit/models/heads/head.h"

namespace segkit {

namespace {

InferenceOptions default_options(c10::Device device) {
  InferenceOptions options;
  options.channels_last = device.is_cpu();
  return options;
}

}  // namespace

Predictor::Predictor(Segmentor model, Preprocess preprocess, c10::Device device)
    : Predictor(std::move(model), preprocess, device, default_options(device)) {}

Predictor::Predictor(Segmentor model, Preprocess preprocess, c10::Device device, const InferenceOptions& options)
    : model_(std::move(model)), preprocess_(preprocess), device_(device), channels_last_(options.channels_last) {
  model_->eval();
  model_->to(device_);
  if (options.rewrite) optimize_for_inference(*model_, options);
}

at::Tensor Predictor::forward(const at::Tensor& batch) {
  c10::InferenceMode guard;
  at::Tensor input = batch.to(device_);
  if (channels_last_) input = input.contiguous(at::MemoryFormat::ChannelsLast);
  return model_->forward(input).out;
}

std::vector<Prediction> Predictor::predict(const std::vector<Image>& images) {
  std::vector<Prediction> predictions(images.size());
  std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> groups;
  for (size_t i = 0; i < images.size(); ++i) {
    groups[preprocess_.input_size(images[i].height(), images[i].width())].push_back(i);
  }
  c10::InferenceMode guard;
  for (const auto& [size, members] : groups) {
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
