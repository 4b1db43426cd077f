#pragma once

#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>

#include <memory>
#include <optional>
#include <string>

namespace segkit {

class OneDnnConv;
class QuantizedConv;

enum class Activation { kNone, kReLU, kReLU6, kHardswish, kSiLU, kSigmoid, kHardsigmoid };

/// Applies an activation, in place when no gradient is being recorded.
at::Tensor activate(at::Tensor x, Activation activation);

/// activation(x + residual) (a residual block's end), in place in `x` when no gradient is being
/// recorded.
at::Tensor add_then_activate(at::Tensor x, const at::Tensor& residual, Activation activation);

/// A square 2-D convolution's geometry. Padding is explicit (no "same"), which
/// keeps it a plain integer in both LibTorch 1.x and 2.x.
struct ConvSpec {
  ConvSpec(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, padding) = 0;
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(bool, bias) = false;

 public:
  torch::nn::Conv2dOptions to_options() const;
};

/// How to rewrite a model for inference once its weights are loaded.
struct InferenceOptions {
  /// Store folded weights channels-last, oneDNN's fast layout on CPUs (feed it
  /// channels-last inputs too). Measured against oneDNN's blocked layout with
  /// prepacked weights, channels-last was faster: see bench/RESULTS.md.
  bool channels_last = false;
  /// Run the folded convolutions with oneDNN directly, weights packed once and activations
  /// fused (float32 CPU inference; ignored when segkit was built without oneDNN). The
  /// rewritten model then takes only float32 CPU input.
  bool onednn = false;
  /// false: leave the model as it is (eval mode only), e.g. for validation during training.
  bool rewrite = true;
  /// The type the rewritten model computes in: float32, or bfloat16 (oneDNN's bf16 kernels on
  /// CPU) or float16 (CUDA). Weights are converted after BatchNorm is folded in float32; the
  /// model then takes input of this type and answers in it.
  at::ScalarType dtype = at::kFloat;
  /// Run the convolutions QuantizedConv::eligible takes in 8-bit integers (QuantizedConv: CPU,
  /// oneDNN, a CPU with VNNI; ignored elsewhere), the rest of the model in `dtype`.
  bool int8 = false;
};

/// A convolution with the BatchNorm after it (if any) folded into its weight and bias.
struct FoldedConv {
  at::Tensor weight;  ///< undefined when oneDNN holds the weights
  at::Tensor bias;
  ConvSpec spec{1, 1, 1};
  std::shared_ptr<OneDnnConv> onednn;        ///< set when InferenceOptions::onednn asked for it
  std::shared_ptr<QuantizedConv> quantized;  ///< set when InferenceOptions::int8 asked for it

  /// Takes over `conv`'s weight storage, scaled in place (the caller releases the module's
  /// tensors). `bn` may be null: a plain convolution, rewritten all the same.
  static FoldedConv fold(const ConvSpec& spec, torch::nn::Conv2dImpl& conv, const torch::nn::BatchNorm2dImpl* bn,
                         const InferenceOptions& options);
  /// The convolution, then `activation` (fused into it by oneDNN).
  at::Tensor operator()(const at::Tensor& x, Activation activation = Activation::kNone) const;
  /// activation(convolution(x) + residual): in one pass with oneDNN (see OneDnnConv, also for
  /// `overwrite_residual`).
  at::Tensor operator()(const at::Tensor& x, Activation activation, const at::Tensor& residual,
                        bool overwrite_residual = false) const;
};

/// A Conv2d and the BatchNorm2d after it, registered in `parent` under the names
/// torchvision gives them (an empty `bn_name`: a convolution without BatchNorm, still
/// rewritten for inference). Not a module itself, so checkpoint keys stay flat.
class ConvBn {
 public:
  ConvBn() = default;
  ConvBn(torch::nn::Module& parent, const std::string& conv_name, const std::string& bn_name, const ConvSpec& spec,
         double bn_eps = 1e-5, double bn_momentum = 0.1);

  /// conv then BatchNorm then `activation`, or the folded convolution once fold() ran.
  at::Tensor operator()(const at::Tensor& x, Activation activation = Activation::kNone);
  /// activation(conv then BatchNorm, + residual): a residual block's end, in one pass once
  /// folded for oneDNN. `overwrite_residual`: the folded convolution may write its result over
  /// `residual` (a tensor nothing else holds).
  at::Tensor operator()(const at::Tensor& x, Activation activation, const at::Tensor& residual,
                        bool overwrite_residual = false);
  /// Folds BatchNorm into the convolution for inference (call in eval mode, after loading
  /// weights). Releases the unfolded weights: from then on the module's state dict is empty.
  void fold(const InferenceOptions& options = {});
  bool folded() const { return folded_.has_value(); }

  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};

 private:
  ConvSpec spec_{1, 1, 1};
  std::optional<FoldedConv> folded_;
};

/// A module that can rewrite itself for inference: BatchNorm folded into the
/// convolutions before it. Its children are rewritten separately.
class InferenceOptimizable {
 public:
  virtual ~InferenceOptimizable() = default;
  virtual void optimize_for_inference(const InferenceOptions& options) = 0;
  /// true: optimize_for_inference rewrote the module's children itself (with options of its
  /// choosing, e.g. float32 parts in a bfloat16 model), and the tree walk leaves them alone.
  virtual bool rewrites_children() const { return false; }
};

/// Rewrites every module of the tree for inference (eval mode, weights loaded), then converts
/// the floating parameters and buffers left to options.dtype, but for transposed convolutions'
/// other than tiled_transposed_conv's (see transposed_conv) and unfolded BatchNorm's (normalized
/// in float32). Irreversible.
void optimize_for_inference(torch::nn::Module& model, const InferenceOptions& options = {});

/// `conv` on `x`, returned in x's type and computed in the type of the convolution's weights
/// (LibTorch 1.13's bfloat16 transposed convolution fails on CPU, so inference rewrites keep
/// these small layers in float32), or in x's under autocast. A convolution whose stride equals
/// its kernel (U-Net's 2 x 2 up-convolution) runs as tiled_transposed_conv, a matrix product
/// that inference rewrites leave in the model's type.
at::Tensor transposed_conv(torch::nn::ConvTranspose2dImpl& conv, const at::Tensor& x);

/// A transposed convolution whose stride equals its kernel, without padding, dilation or groups
/// (weight: C_in x C_out x kh x kw), as one matrix product and a reordering of its result, each
/// output pixel the same dot product over the input channels. LibTorch's own runs im2col code on
/// the CPU, forward and backward: several times slower in training (bench/RESULTS.md). The
/// result has channels-last strides.
at::Tensor tiled_transposed_conv(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

/// torchvision's Conv2dNormActivation: Sequential(conv "0", BatchNorm "1", activation).
struct ConvNormActOptions {
  ConvNormActOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, dilation) = 1;
  TORCH_ARG(int64_t, groups) = 1;
  /// Padding is dilation * (kernel_size - 1) / 2, as torchvision's.
  TORCH_ARG(Activation, activation) = Activation::kReLU;
  TORCH_ARG(double, bn_eps) = 1e-5;
  /// The running statistics' update rate in training (torchvision's MobileNetV3: 0.01).
  TORCH_ARG(double, bn_momentum) = 0.1;
};

class ConvNormActImpl : public torch::nn::Module, public InferenceOptimizable {
 public:
  explicit ConvNormActImpl(const ConvNormActOptions& options);
  at::Tensor forward(const at::Tensor& x);
  void optimize_for_inference(const InferenceOptions& o) override { conv_bn_.fold(o); }

  ConvNormActOptions options;

 private:
  ConvBn conv_bn_;
};
TORCH_MODULE(ConvNormAct);

/// torchvision's Conv2dNormActivation without a norm, as its FPN (no activation), RPN head and
/// mask head (ReLU) use it: a conv with bias registered as "0" (weights "<block>.0.weight"),
/// then the activation; rewritten for inference as any other convolution (oneDNN, fused
/// activation).
class ConvActImpl : public torch::nn::Module, public InferenceOptimizable {
 public:
  ConvActImpl(const ConvSpec& spec, Activation activation);
  at::Tensor forward(const at::Tensor& x) { return conv_(x, activation_); }
  void optimize_for_inference(const InferenceOptions& o) override { conv_.fold(o); }
  /// The convolution, to initialize its weights.
  torch::nn::Conv2d& conv() { return conv_.conv; }

 private:
  ConvBn conv_;
  Activation activation_;
};
TORCH_MODULE(ConvAct);

}  // namespace segkit
