#pragma once

// A convolution for CPU inference in 8-bit integers, run by oneDNN's int8 kernels (VNNI dot
// products: twice bfloat16's rate, four times float32's on AVX-512 CPUs). Weights are
// quantized once, symmetric per output channel (int8, scale = largest magnitude / 127). Each
// call quantizes its input per tensor from the input's own range (dynamic quantization: no
// calibration data): uint8 when no value is negative (after a ReLU), else int8, with a scale
// rounded up to the next of two steps per power of two, so that a handful of kernels serve
// all inputs (oneDNN 2's int8 kernels take their scales when they are compiled). The int32
// sums are scaled back, biased and activated in one pass, and the result is in the input's
// type (float32 or bfloat16). FoldedConv uses it when the inference rewrite asks for it
// (InferenceOptions::int8).

#include <ATen/core/Tensor.h>

#include <memory>

#include "segkit/layers/conv_bn.h"

namespace segkit {

class QuantizedConv {
 public:
  /// Input scales per power of two. An input's scale is at most 2^(1/2) coarser than its range
  /// needs (half a bit of its 8); each step a layer meets compiles a kernel (1-12 ms, and
  /// memory): finer steps made tiles of one large image, whose ranges differ a little each,
  /// compile kernels for most tiles (measured: bench/RESULTS.md).
  static constexpr int kScaleStepsPerOctave = 2;

  /// Whether segkit was built with oneDNN and this CPU has int8 dot products (AVX512-VNNI or
  /// AVX-VNNI); elsewhere oneDNN's int8 kernels are slower than float32.
  static bool available();

  /// Whether a convolution of this shape can run in int8: not grouped (depthwise layers have
  /// too little arithmetic to gain), and at least 16 input channels (an image's first layer
  /// keeps the precision of the model's other layers).
  static bool eligible(const ConvSpec& spec);

  /// Whether int8 is faster than bf16 for an eligible convolution making `output_pixels`
  /// (batch x height x width) outputs, by what oneDNN's kernels measured layer by layer
  /// (bench/bench_int8_layers.cpp, bench/RESULTS.md): quantizing the input costs a pass over
  /// it, and the int8 kernels are slow on few pixels. On 784 pixels (28 x 28) or more: larger
  /// kernels, and 1 x 1 convolutions of 128 outputs or more; on 49 (7 x 7) to 783: larger
  /// kernels of 64 outputs or more, and 1 x 1 convolutions of at least twice as many outputs as
  /// inputs; on fewer, none. The rewrite quantizes the layers for which this holds on large inputs.
  static bool pays(const ConvSpec& spec, int64_t output_pixels);

  /// The scale an input whose values lie in [min, max] is quantized with: max(|min|, |max|)
  /// over 255 (min >= 0, uint8) or 127 (int8), rounded up to a power of 2^(1 /
  /// kScaleStepsPerOctave). 1 for an input of zeros or of non-finite values.
  static float input_scale(float min, float max);

  /// Takes the weight (out x in x k x k) and bias (out) of a float32 CPU convolution; computes
  /// on inputs of `dtype` (float32 or bfloat16), answering in it.
  QuantizedConv(const at::Tensor& weight, const at::Tensor& bias, const ConvSpec& spec,
                at::ScalarType dtype = at::kFloat);
  ~QuantizedConv();
  QuantizedConv(const QuantizedConv&) = delete;
  QuantizedConv& operator=(const QuantizedConv&) = delete;

  /// The convolution of an N x C x H x W CPU batch of its type (made channels-last if it is not),
  /// then `activation` (fused where oneDNN can): a channels-last result. Any thread may call it,
  /// several at once (as OneDnnConv).
  at::Tensor operator()(const at::Tensor& x, Activation activation) const;

  /// The same in int8 where it pays() for this input's size, else in the input's floating-point
  /// type (oneDNN, OneDnnConv) with the same 8-bit weights. What inference calls.
  at::Tensor run(const at::Tensor& x, Activation activation) const;

  /// The weights as they are multiplied: int8 values times their channel's scale (float32,
  /// out x in x k x k), for tests and error analysis.
  at::Tensor dequantized_weight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace segkit
