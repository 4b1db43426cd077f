#pragma once

#include <c10/core/Device.h>

#include <vector>

#include "segkit/infer/inference.h"
#include "segkit/models/segmentors/segmentor.h"

namespace segkit {

struct Prediction {
  /// classes x h x w, float32 (whatever the model computes in), at the network's output size;
  /// undefined where finish() was not asked for it
  at::Tensor logits;
  at::Tensor mask;  ///< H x W class indices (int64) at the image's own size
};

/// One image's logits as the network leaves them, before the model's last resize.
struct NetworkLogits {
  at::Tensor logits;  ///< classes x h x w, float32, on the model's device
  /// The model's output size, to which its forward() resizes `logits` (bilinear, align_corners
  /// false); their own size where it does not resize them.
  int64_t height = 0, width = 0;
  /// `logits` at the output size, as the model's forward() returns them.
  at::Tensor resized() const;
};

/// Runs a semantic segmentation model for inference: eval mode, BatchNorm folded into
/// the convolutions, no aux head, no autograd; in float32 or, with InferenceOptions::dtype,
/// bfloat16 (the logits are resized and their argmax taken in float32 all the same).
class Predictor {
 public:
  /// Takes the model over (pass it with std::move): it is rewritten for inference in place.
  /// With options.rewrite false it is borrowed unchanged instead (validation in training).
  Predictor(Segmentor model, Preprocess preprocess, c10::Device device = c10::Device("cpu"));
  Predictor(Segmentor model, Preprocess preprocess, c10::Device device, const InferenceOptions& options);

  /// One prediction per image, with its logits. Images whose input sizes match run as one
  /// batch. The same as finish(run(prepare(images)), image, true) for each image, in steps a
  /// pipeline can run on threads of their own.
  std::vector<Prediction> predict(const std::vector<Image>& images);
  /// The preprocessing (uses no model state: any thread).
  PreparedBatch prepare(const std::vector<Image>& images) const { return prepare_batch(images, preprocess_); }
  /// The network: each image's float32 logits, in the images' order, before the model's last
  /// resize (finish() takes it with the resize to the image). Several threads may run it at once
  /// (predict's --streams).
  std::vector<NetworkLogits> run(const PreparedBatch& prepared);
  /// Logits to a prediction: the argmax of their resize to the image's size, in float32 (uses no
  /// model state: any thread). The logits at the output size only `with_logits`.
  static Prediction finish(const NetworkLogits& logits, const Image& image, bool with_logits = false);
  /// Float32 logits for an already preprocessed N x C x h x w batch.
  at::Tensor forward(const at::Tensor& batch);
  const SegmentorImpl& model() const { return *model_; }
  const Preprocess& preprocess() const { return preprocess_; }

 private:
  Segmentor model_;
  Preprocess preprocess_;
  c10::Device device_;
  InferenceOptions options_;
};

}  // namespace segkit
