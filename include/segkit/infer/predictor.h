#pragma once

#include <vector>

#include <c10/core/Device.h>

#include "segkit/data/preprocess.h"
#include "segkit/io/image.h"
#include "segkit/layers/conv_bn.h"
#include "segkit/models/segmentors/segmentor.h"

namespace segkit {

struct Prediction {
  at::Tensor logits;  ///< classes x h x w, float32, at the network's input size
  at::Tensor mask;    ///< H x W class indices (int64) at the image's own size
};

/// Runs a segmentation model for inference: eval mode, BatchNorm folded into the
/// convolutions, no aux head, no autograd.
class Predictor {
 public:
  Predictor(Segmentor model, Preprocess preprocess, c10::Device device = c10::Device("cpu"));
  /// With explicit inference rewrites (default: channels-last weights on CPU).
  Predictor(Segmentor model, Preprocess preprocess, c10::Device device, const InferenceOptions& options);

  /// One prediction per image. Images whose input sizes match run as one batch.
  std::vector<Prediction> predict(const std::vector<Image>& images);
  /// Logits for an already preprocessed N x 3 x h x w batch.
  at::Tensor forward(const at::Tensor& batch);
  const SegmentorImpl& model() const { return *model_; }
  const Preprocess& preprocess() const { return preprocess_; }

 private:
  Segmentor model_;
  Preprocess preprocess_;
  c10::Device device_;
  bool channels_last_;
};

}  // namespace segkit
