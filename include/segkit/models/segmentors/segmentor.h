#pragma once

#include <memory>
#include <utility>

#include "segkit/models/model.h"

namespace segkit {

/// A semantic segmentation model: to the predictor, the tiler and the trainer.
class SegmentorImpl : public ModelImpl {
 public:
  Task task() const override { return Task::kSemantic; }
  /// Runs the aux head only when `with_aux` is set (training asks for it); inference skips it.
  virtual SemanticOutput forward(const at::Tensor& x, bool with_aux = false) = 0;
  virtual bool has_aux() const { return false; }
  /// The logits before a last bilinear resize (align_corners false) to the output size, for
  /// whoever resizes them again anyway: the predictor takes both resizes to the image in one
  /// step. The encoder-decoders' classifier output (float32); by default forward(x).logits.
  virtual at::Tensor unresized_logits(const at::Tensor& x) { return forward(x).logits; }
  /// The logits' size for an input of `height` x `width` (smaller for an unpadded U-Net).
  virtual std::pair<int64_t, int64_t> output_size(int64_t height, int64_t width) const { return {height, width}; }
  /// "loss_seg" and, with an aux head, "loss_aux" (times options.aux_weight), from
  /// targets.masks and targets.pixel_weights.
  LossMap losses(const at::Tensor& images, const Targets& targets, const LossOptions& options) override;
};
using Segmentor = std::shared_ptr<SegmentorImpl>;

/// For models that cannot take every input size (the unpadded U-Net): what overlap-tile
/// inference and the training crop need to know. Other models take any size.
class InputConstraints {
 public:
  virtual ~InputConstraints() = default;
  /// Pixels the model drops on each side (unpadded convolutions).
  virtual int64_t border() const = 0;
  /// Tiles must start at multiples of this for tiling to reproduce the untiled output.
  virtual int64_t alignment() const = 0;
  /// The smallest input side at least `side` that the model takes.
  virtual int64_t valid_input_size(int64_t side) const = 0;
};

/// `model`'s input constraints, or nullptr for a model that takes any size.
const InputConstraints* input_constraints(const ModelImpl& model);

}  // namespace segkit
