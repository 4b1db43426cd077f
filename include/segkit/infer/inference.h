#pragma once

// What the predictors share: taking a model over for inference, and batching images
// by the input size their preprocessing gives them.

#include <c10/core/Device.h>

#include <map>
#include <utility>
#include <vector>

#include "segkit/data/preprocess.h"
#include "segkit/io/image.h"
#include "segkit/layers/conv_bn.h"
#include "segkit/models/model.h"

namespace segkit {

/// BatchNorm folded; on CPU, channels-last data and convolutions run by oneDNN with packed weights.
InferenceOptions default_inference_options(c10::Device device);

/// Puts `model` in eval mode on `device` and, unless options.rewrite is false, rewrites it
/// for inference in place (BatchNorm folded, weights channels-last): irreversible, so the
/// predictor must hold its only reference (`references`, the owner's use_count()).
void adopt_for_inference(ModelImpl& model, long references, c10::Device device, const InferenceOptions& options);

/// A preprocessed batch as the rewritten model takes it: on `device`, channels-last if asked.
at::Tensor model_input(const at::Tensor& batch, c10::Device device, bool channels_last);

/// Indices of `images` grouped by the network input size `preprocess` gives them.
std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> group_by_input_size(const std::vector<Image>& images,
                                                                               const Preprocess& preprocess);

}  // namespace segkit
