#include "segkit/infer/inference.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <stdexcept>

#include "segkit/layers/quantized_conv.h"

namespace segkit {

InferenceOptions default_inference_options(c10::Device device, at::ScalarType dtype) {
  InferenceOptions options;
  options.channels_last = device.is_cpu();
  options.onednn = device.is_cpu();
  options.dtype = dtype;
  return options;
}

at::ScalarType inference_dtype(const std::string& precision, c10::Device device) {
  if (precision == "fp32") return at::kFloat;
  if (precision == "bf16") return at::kBFloat16;
  if (precision == "fp16") {
    if (!device.is_cuda()) throw std::invalid_argument("precision fp16 is for CUDA devices; on the CPU use bf16");
    return at::kHalf;
  }
  if (precision == "auto" || precision == "int8") {
    if (device.is_cuda()) return at::kHalf;
    return cpu_has_native_bf16() ? at::kBFloat16 : at::kFloat;
  }
  throw std::invalid_argument("unknown precision '" + precision + "' (fp32, bf16, fp16, int8 or auto)");
}

std::string precision_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "fp32";
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "fp16";
    default: return c10::toString(dtype);
  }
}

InferenceOptions precision_inference_options(c10::Device device, const std::string& precision) {
  InferenceOptions options = default_inference_options(device, inference_dtype(precision, device));
  if (precision != "int8") return options;
  if (!device.is_cpu()) throw std::invalid_argument("precision int8 is for the CPU; on CUDA use fp16 or bf16");
  if (!QuantizedConv::available()) {
    throw std::invalid_argument(
        "precision int8 needs a CPU with int8 dot products (AVX512-VNNI or AVX-VNNI) and segkit built with oneDNN; "
        "use fp32 or bf16");
  }
  options.int8 = true;
  return options;
}

std::string precision_name(const InferenceOptions& options) {
  return options.int8 ? "int8" : precision_name(options.dtype);
}

void adopt_for_inference(ModelImpl& model, long references, c10::Device device, const InferenceOptions& options) {
  if (!options.rewrite && options.dtype != at::kFloat) {
    throw std::logic_error("a model borrowed unchanged (InferenceOptions::rewrite = false) computes in float32");
  }
  if (options.rewrite && references > 1) {
    throw std::logic_error(
        "a predictor rewrites its model for inference (BatchNorm folded into the convolutions): hand it the only "
        "reference (std::move), or borrow it unchanged with InferenceOptions::rewrite = false");
  }
  model.eval();
  model.to(device);
  if (options.rewrite) optimize_for_inference(model, options);
}

at::Tensor model_input(const at::Tensor& batch, c10::Device device, const InferenceOptions& options) {
  at::Tensor input = batch.to(device, options.dtype);
  return options.channels_last ? input.contiguous(at::MemoryFormat::ChannelsLast) : input;
}

std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> group_by_input_size(const std::vector<Image>& images,
                                                                               const Preprocess& preprocess) {
  std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> groups;
  for (size_t i = 0; i < images.size(); ++i) {
    groups[preprocess.input_size(images[i].height(), images[i].width())].push_back(i);
  }
  return groups;
}

size_t PreparedBatch::size() const {
  size_t count = 0;
  for (const auto& members : groups) count += members.size();
  return count;
}

PreparedBatch prepare_batch(const std::vector<Image>& images, const Preprocess& preprocess) {
  c10::InferenceMode guard;
  PreparedBatch prepared;
  for (const auto& [size, members] : group_by_input_size(images, preprocess)) {
    std::vector<at::Tensor> inputs;
    for (size_t i : members) inputs.push_back(preprocess(images[i].pixels));
    prepared.groups.push_back(members);
    prepared.inputs.push_back(inputs.size() == 1 ? inputs[0].unsqueeze(0) : at::stack(inputs));
  }
  return prepared;
}

}  // namespace segkit
