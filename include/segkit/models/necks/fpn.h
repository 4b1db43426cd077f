#pragma once

// Feature Pyramid Network (Lin et al. 2017), as torchvision's FeaturePyramidNetwork with
// LastLevelMaxPool: a 1x1 lateral conv per input level ("inner_blocks"), a top-down path that
// adds each coarser result, upsampled (nearest), to the next finer lateral, a 3x3 conv on each
// sum ("layer_blocks"), and an extra level subsampled from the coarsest output ("pool").

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <vector>

namespace segkit {

struct FeaturePyramidOptions {
  explicit FeaturePyramidOptions(std::vector<int64_t> in_channels) : in_channels_(std::move(in_channels)) {}
  /// The inputs' channels, finest level first (ResNet-50's layer1..layer4: 256..2048).
  TORCH_ARG(std::vector<int64_t>, in_channels);
  TORCH_ARG(int64_t, out_channels) = 256;
  /// Adds "pool": the coarsest output max-pooled with kernel 1, stride 2 (the RPN's P6).
  TORCH_ARG(bool, extra_max_pool) = true;
};

class FeaturePyramidImpl : public torch::nn::Module {
 public:
  explicit FeaturePyramidImpl(FeaturePyramidOptions options);

  /// `features`: one map per input level, finest first. Returns the pyramid in the same order
  /// (torchvision's "0", "1", ...), then "pool" when extra_max_pool.
  std::vector<at::Tensor> forward(const std::vector<at::Tensor>& features);

  /// Output names in forward()'s order: "0", "1", ..., "pool".
  std::vector<std::string> output_names() const;

  FeaturePyramidOptions options;

 private:
  torch::nn::ModuleList inner_blocks_, layer_blocks_;
};
TORCH_MODULE(FeaturePyramid);

}  // namespace segkit
