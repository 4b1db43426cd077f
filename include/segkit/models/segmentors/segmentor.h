#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <utility>

namespace segkit {

/// Logits, N x classes x h x w: at the input's size, or smaller for a model that
/// loses a border (see SegmentorImpl::output_size()).
struct SegmentationOutput {
  at::Tensor out;
  at::Tensor aux;  ///< from the aux head; undefined unless asked for
};

/// What every semantic segmentation model is to the predictor, the tiler and the trainer.
class SegmentorImpl : public torch::nn::Module {
 public:
  /// Runs the aux head only when `with_aux` is set (training asks for it); inference skips it.
  virtual SegmentationOutput forward(const at::Tensor& x, bool with_aux = false) = 0;
  virtual bool has_aux() const { return false; }
  virtual int64_t in_channels() const { return 3; }
  /// The logits' size for an input of `height` x `width` (smaller for an unpadded U-Net).
  virtual std::pair<int64_t, int64_t> output_size(int64_t height, int64_t width) const { return {height, width}; }
  /// Tiles must start at multiples of this for tiling to reproduce the untiled output.
  virtual int64_t alignment() const { return 1; }
  /// The smallest input side at least `side` that the model takes.
  virtual int64_t valid_input_size(int64_t side) const { return side; }
  /// Pixels the model drops on each side (unpadded convolutions); 0 for most models.
  virtual int64_t border() const { return 0; }
};
using Segmentor = std::shared_ptr<SegmentorImpl>;

}  // namespace segkit
