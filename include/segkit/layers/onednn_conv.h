#pragma once

// A convolution for CPU inference run by oneDNN (Debian's libdnnl, the library LibTorch
// itself calls), with its weights packed once, in the layout the chosen kernel wants, and
// its activation fused. 3x3 stride-1 convolutions of 64 to 256 channels use oneDNN's
// Winograd kernel (F(4x4, 3x3): 2.25x fewer multiplications, weights stored 4x larger); the
// others its direct kernel on channels-last data. PyTorch's own channels-last convolution
// reorders its weights on every call instead. FoldedConv uses it when the inference rewrite
// asks for it (InferenceOptions::onednn).

#include <ATen/core/Tensor.h>

#include <memory>

#include "segkit/layers/conv_bn.h"

namespace segkit {

class OneDnnConv {
 public:
  /// Whether segkit was built with oneDNN (the CMake option SEGKIT_WITH_ONEDNN, on when found).
  static bool available();

  /// Whether it computes in `dtype`: float32, and bfloat16 (packed bfloat16 weights, float32
  /// bias and accumulation; oneDNN emulates it on CPUs without AVX512-BF16, slowly).
  static bool supports(at::ScalarType dtype);

  /// Takes the weight (out x in/groups x k x k) and bias (out) of a float32 CPU convolution,
  /// to compute in `dtype`. The weight is released once packed.
  OneDnnConv(at::Tensor weight, at::Tensor bias, const ConvSpec& spec, at::ScalarType dtype = at::kFloat);
  ~OneDnnConv();
  OneDnnConv(const OneDnnConv&) = delete;
  OneDnnConv& operator=(const OneDnnConv&) = delete;

  /// The convolution of an N x C x H x W CPU batch of its type (made channels-last if it is not),
  /// then `activation` (fused where oneDNN can): a channels-last result. Each new input size
  /// and activation builds its kernel once. Any thread may call it, several at once: each call
  /// brings its own scratch memory (oneDNN's default ties a kernel to the thread that built it).
  at::Tensor operator()(const at::Tensor& x, Activation activation) const;
  /// activation(convolution(x) + residual), the sum and activation fused into the kernel
  /// (oneDNN's sum post-op) but for Winograd's kernels, whose blocked output is added to
  /// after: a residual block's end in one pass instead of three. `residual` must have the
  /// output's shape and type. The result is written over a channels-last copy of it, or over
  /// it where `overwrite_residual` allows and it is channels-last already (no copy: a block's
  /// downsampled identity, which nothing else holds).
  at::Tensor operator()(const at::Tensor& x, Activation activation, const at::Tensor& residual,
                        bool overwrite_residual = false) const;

  /// How a batch of this size goes through Winograd's kernel: `images` per call (0: it takes
  /// the direct kernel instead), and where one image is too large for a call, `rows` of output
  /// a call (strips; 0: whole images).
  struct Tiling {
    int64_t images = 0;
    int64_t rows = 0;
  };
  /// Winograd: 3x3, stride 1, not grouped or dilated, 64 to 256 channels in and out (weights
  /// of at most 256 x 256 x 3 x 3), input of at least 28 x 28; float32 only. Whole images
  /// where at most 16 MiB of them (channels-last input and output) fit a call, else strips of
  /// about 4 MiB, a multiple of 4 rows (Winograd's 4 x 4 tiles).
  Tiling winograd_tiling(int64_t batch, int64_t height, int64_t width) const;

 private:
  at::Tensor run(const at::Tensor& x, Activation activation, const at::Tensor* residual, bool overwrite) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace segkit
