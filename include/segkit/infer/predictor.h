#pragma once

#include <array>
#include <vector>

#include <c10/core/Device.h>

#include "segkit/io/image.h"
#include "segkit/layers/conv_bn.h"
#include "segkit/models/segmentors/encoder_decoder.h"

namespace segkit {

/// What the published weights expect: torchvision's SemanticSegmentation transform.
struct Preprocess {
  /// Resize so the short side has this many pixels; 0 keeps the image's size.
  int64_t resize = 520;
  std::array<double, 3> mean{0.485, 0.456, 0.406};
  std::array<double, 3> std{0.229, 0.224, 0.225};

  /// The network's input size for an image of this size.
  std::pair<int64_t, int64_t> input_size(int64_t height, int64_t width) const;
  /// An H x W x 3 uint8 image to a normalized 3 x h x w float tensor at input_size().
  at::Tensor operator()(const at::Tensor& pixels) const;
};

struct Prediction {
  at::Tensor logits;  ///< classes x h x w, float32, at the network's input size
  at::Tensor mask;    ///< H x W class indices (int64) at the image's own size
};

/// Runs a segmentation model for inference: eval mode, BatchNorm folded into the
/// convolutions, no aux head, no autograd.
class Predictor {
 public:
  Predictor(EncoderDecoder model, Preprocess preprocess, c10::Device device = c10::Device("cpu"));
  /// With explicit inference rewrites (default: channels-last weights on CPU).
  Predictor(EncoderDecoder model, Preprocess preprocess, c10::Device device, const InferenceOptions& options);

  /// One prediction per image. Images whose input sizes match run as one batch.
  std::vector<Prediction> predict(const std::vector<Image>& images);
  /// Logits for an already preprocessed N x 3 x h x w batch.
  at::Tensor forward(const at::Tensor& batch);

 private:
  EncoderDecoder model_;
  Preprocess preprocess_;
  c10::Device device_;
  bool channels_last_;
};

}  // namespace segkit
