#pragma once

// U-Net (Ronneberger, Fischer and Brox, 2015): a contracting path of two 3x3
// convolutions and a 2x2 max pooling per level, an expanding path of a 2x2
// up-convolution halving the channels, concatenation with the cropped skip
// features and two 3x3 convolutions, and a final 1x1 convolution.

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>

#include <optional>
#include <vector>

#include "segkit/core/checkpoint.h"
#include "segkit/layers/conv_bn.h"
#include "segkit/models/segmentors/segmentor.h"

namespace segkit {

enum class Upsampling {
  kTransposed,  ///< 2x2 transposed convolution, stride 2 (the paper's up-convolution)
  kNearest,     ///< nearest-neighbour x2, then a 3x3 convolution (no checkerboard artifacts)
  kBilinear,    ///< bilinear x2, then a 3x3 convolution
};

/// "transposed", "nearest", "bilinear".
const char* upsampling_name(Upsampling upsampling);
/// The inverse; throws InputError naming the valid names (after `what`, e.g. "--upsampling").
Upsampling upsampling_from_name(const std::string& name, const std::string& what);

struct UNetOptions {
  TORCH_ARG(int64_t, in_channels) = 1;
  TORCH_ARG(int64_t, num_classes) = 2;
  /// Levels, counting the bottom one: 5 is the paper's four poolings.
  TORCH_ARG(int64_t, depth) = 5;
  /// Channels of the first level; each level below doubles them.
  TORCH_ARG(int64_t, base_width) = 64;
  /// false: unpadded convolutions as in the paper (572 x 572 in, 388 x 388 out);
  /// true: padded ones, logits the size of the input.
  TORCH_ARG(bool, padding) = false;
  TORCH_ARG(bool, batch_norm) = false;
  TORCH_ARG(Upsampling, upsampling) = Upsampling::kTransposed;
};

/// Two 3x3 convolutions, each followed by (BatchNorm and) ReLU: modules conv1, bn1, conv2, bn2.
class UNetBlockImpl : public torch::nn::Module, public InferenceOptimizable {
 public:
  UNetBlockImpl(int64_t in_channels, int64_t out_channels, bool padding, bool batch_norm);
  at::Tensor forward(at::Tensor x);
  void optimize_for_inference(const InferenceOptions& options) override;

 private:
  ConvBn conv_bn1_, conv_bn2_;  // without BatchNorm: plain convolutions
};
TORCH_MODULE(UNetBlock);

/// Modules: encoder.{level}, up.{i}, decoder.{i} (i = 0 next to the bottom), head.
/// Layers (for a FeatureTap): "encoder.0" .. and "decoder.0" .., each block's output.
class UNetImpl : public SegmentorImpl, public InputConstraints {
 public:
  explicit UNetImpl(const UNetOptions& options);

  /// Padded: any input size (padded by mirroring to a multiple of alignment() and cropped
  /// back). Unpadded: the input must be a valid size (see valid_input_size()).
  SemanticOutput forward(const at::Tensor& x, bool with_aux = false) override;
  int64_t in_channels() const override { return options.in_channels(); }
  int64_t num_classes() const override { return options.num_classes(); }
  std::vector<std::string> head_modules() const override { return {"head"}; }
  std::vector<std::string> layer_names() const override;
  std::pair<int64_t, int64_t> output_size(int64_t height, int64_t width) const override;
  int64_t alignment() const override { return int64_t{1} << (options.depth() - 1); }

  /// Unpadded: the output side for an input side, or nullopt where some level would have
  /// an odd or empty feature map. Padded: the side itself.
  std::optional<int64_t> output_side(int64_t input_side) const;
  /// The smallest valid input side at least `side`.
  int64_t valid_input_size(int64_t side) const override;
  /// Pixels lost on each side by the unpadded convolutions (0 when padded).
  int64_t border() const override;

  UNetOptions options;

 private:
  at::Tensor forward_valid(const at::Tensor& x);

  torch::nn::ModuleList encoder_, up_, decoder_;
  torch::nn::Conv2d head_{nullptr};
};
TORCH_MODULE(UNet);

/// The U-Net architecture a checkpoint implies, on top of `base`: input channels and base
/// width from the first convolution, depth from the encoder's levels, BatchNorm from its
/// keys, transposed convolutions from a 2x2 "up" kernel (a 3x3 one follows a resize:
/// base's nearest or bilinear).
UNetOptions unet_options_from_checkpoint(const StateDict& state, UNetOptions base);

}  // namespace segkit
