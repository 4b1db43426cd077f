#include "segkit/infer/inference.h"

#include <stdexcept>

namespace segkit {

InferenceOptions default_inference_options(c10::Device device) {
  InferenceOptions options;
  options.channels_last = device.is_cpu();
  options.onednn = device.is_cpu();
  return options;
}

void adopt_for_inference(ModelImpl& model, long references, c10::Device device, const InferenceOptions& options) {
  if (options.rewrite && references > 1) {
    throw std::logic_error(
        "a predictor rewrites its model for inference (BatchNorm folded into the convolutions): hand it the only "
        "reference (std::move), or borrow it unchanged with InferenceOptions::rewrite = false");
  }
  model.eval();
  model.to(device);
  if (options.rewrite) optimize_for_inference(model, options);
}

at::Tensor model_input(const at::Tensor& batch, c10::Device device, bool channels_last) {
  at::Tensor input = batch.to(device);
  return channels_last ? input.contiguous(at::MemoryFormat::ChannelsLast) : input;
}

std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> group_by_input_size(const std::vector<Image>& images,
                                                                               const Preprocess& preprocess) {
  std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> groups;
  for (size_t i = 0; i < images.size(); ++i) {
    groups[preprocess.input_size(images[i].height(), images[i].width())].push_back(i);
  }
  return groups;
}

}  // namespace segkit
