#pragma once

// What the predictors share: taking a model over for inference, and batching images
// by the input size their preprocessing gives them.

#include <c10/core/Device.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "segkit/core/runtime.h"  // cpu_has_native_bf16
#include "segkit/data/preprocess.h"
#include "segkit/io/image.h"
#include "segkit/layers/conv_bn.h"
#include "segkit/models/model.h"

namespace segkit {

/// BatchNorm folded; on CPU, channels-last data and convolutions run by oneDNN with packed weights.
/// `dtype`: what the rewritten model computes in (see inference_dtype).
InferenceOptions default_inference_options(c10::Device device, at::ScalarType dtype = at::kFloat);

/// The type a model computes in on `device` for a --precision of "fp32", "bf16", "fp16" (CUDA
/// only) or "auto" (CPU: bf16 where cpu_has_native_bf16(), else fp32; CUDA: fp16); for "int8",
/// the type of the layers left in floating point (as "auto" on the CPU). Throws
/// std::invalid_argument for anything else.
at::ScalarType inference_dtype(const std::string& precision, c10::Device device);
/// "fp32", "bf16", "fp16".
std::string precision_name(at::ScalarType dtype);

/// The rewrite for a --precision on `device`: default_inference_options in inference_dtype's type,
/// and for "int8" the convolutions QuantizedConv takes in 8-bit integers (CPU only, with int8 dot
/// products: QuantizedConv::available()). Throws std::invalid_argument naming what is missing.
InferenceOptions precision_inference_options(c10::Device device, const std::string& precision);
/// precision_name of the options' type, or "int8" when they quantize.
std::string precision_name(const InferenceOptions& options);

/// Puts `model` in eval mode on `device` and, unless options.rewrite is false, rewrites it
/// for inference in place (BatchNorm folded, weights channels-last): irreversible, so the
/// predictor must hold its only reference (`references`, the owner's use_count()).
void adopt_for_inference(ModelImpl& model, long references, c10::Device device, const InferenceOptions& options);

/// A preprocessed batch as the rewritten model takes it: on `device`, of `options.dtype`,
/// channels-last if asked.
at::Tensor model_input(const at::Tensor& batch, c10::Device device, const InferenceOptions& options);

/// Indices of `images` grouped by the network input size `preprocess` gives them.
std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> group_by_input_size(const std::vector<Image>& images,
                                                                               const Preprocess& preprocess);

/// Images preprocessed and grouped by input size, ready for a predictor's network.
struct PreparedBatch {
  std::vector<std::vector<size_t>> groups;  ///< indices into the images, one group per input size
  std::vector<at::Tensor> inputs;           ///< each group's N x C x h x w batch
  size_t size() const;                      ///< how many images
};

/// The preprocessing half of a predictor's predict(): any thread (no model involved).
PreparedBatch prepare_batch(const std::vector<Image>& images, const Preprocess& preprocess);

}  // namespace segkit
