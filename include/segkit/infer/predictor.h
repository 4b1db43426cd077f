#pragma once

#include <c10/core/Device.h>

#include <vector>

#include "segkit/infer/inference.h"
#include "segkit/models/segmentors/segmentor.h"

namespace segkit {

struct Prediction {
  at::Tensor logits;  ///< classes x h x w, float32, at the network's input size
  at::Tensor mask;    ///< H x W class indices (int64) at the image's own size
};

/// Runs a semantic segmentation model for inference: eval mode, BatchNorm folded into
/// the convolutions, no aux head, no autograd.
class Predictor {
 public:
  /// Takes the model over (pass it with std::move): it is rewritten for inference in place.
  /// With options.rewrite false it is borrowed unchanged instead (validation in training).
  Predictor(Segmentor model, Preprocess preprocess, c10::Device device = c10::Device("cpu"));
  Predictor(Segmentor model, Preprocess preprocess, c10::Device device, const InferenceOptions& options);

  /// One prediction per image. Images whose input sizes match run as one batch.
  std::vector<Prediction> predict(const std::vector<Image>& images);
  /// Logits for an already preprocessed N x C x h x w batch.
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
