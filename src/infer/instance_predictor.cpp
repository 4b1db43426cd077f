#include "segkit/infer/instance_predictor.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

namespace segkit {

InstancePredictor::InstancePredictor(InstanceSegmentor model, c10::Device device)
    : InstancePredictor(std::move(model), device, default_inference_options(device)) {}

InstancePredictor::InstancePredictor(InstanceSegmentor model, c10::Device device, const InferenceOptions& options)
    : model_(std::move(model)), device_(device) {
  adopt_for_inference(*model_, model_.use_count(), device_, options);
}

std::vector<Instances> InstancePredictor::forward(const std::vector<at::Tensor>& images) {
  c10::InferenceMode guard;
  std::vector<at::Tensor> inputs;
  for (const at::Tensor& image : images) inputs.push_back(image.to(device_, at::kFloat));
  std::vector<Instances> result = model_->forward(inputs);
  for (Instances& r : result) {
    r.boxes = r.boxes.cpu(), r.labels = r.labels.cpu(), r.scores = r.scores.cpu();
    if (r.masks.defined()) r.masks = r.masks.cpu();
  }
  return result;
}

std::vector<Instances> InstancePredictor::predict(const std::vector<Image>& images) {
  std::vector<at::Tensor> inputs;
  for (const Image& image : images) {
    inputs.push_back(image.pixels.permute({2, 0, 1}).to(at::kFloat).div_(255.0));
  }
  return forward(inputs);
}

at::Tensor instance_map(const Instances& instances, int64_t height, int64_t width) {
  at::Tensor map = at::zeros({height, width}, at::kLong);
  const int64_t count = instances.scores.defined() ? instances.scores.size(0) : instances.labels.size(0);
  // Worst first, so that better instances paint over the worse where they overlap.
  for (int64_t k = count - 1; k >= 0; --k) {
    if (instances.masks.defined() && instances.masks.numel() > 0) {
      map.masked_fill_(instances.masks[k].ge(0.5), k + 1);
      continue;
    }
    const at::Tensor box = instances.boxes[k].to(at::kDouble);
    const auto clamp = [](double v, int64_t hi) { return std::min<int64_t>(std::max<int64_t>(0, std::lround(v)), hi); };
    const int64_t x1 = clamp(box[0].item<double>(), width), y1 = clamp(box[1].item<double>(), height);
    const int64_t x2 = clamp(box[2].item<double>(), width), y2 = clamp(box[3].item<double>(), height);
    if (x2 > x1 && y2 > y1) map.narrow(0, y1, y2 - y1).narrow(1, x1, x2 - x1).fill_(k + 1);
  }
  return map;
}

}  // namespace segkit
