#include "segkit/layers/conv_bn.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include <limits>

#include "segkit/layers/onednn_conv.h"
#include "segkit/layers/quantized_conv.h"

namespace segkit {

at::Tensor activate(at::Tensor x, Activation activation) {
  const bool in_place = !at::GradMode::is_enabled();
  switch (activation) {
    case Activation::kNone: return x;
    case Activation::kReLU: return in_place ? x.relu_() : x.relu();
    case Activation::kReLU6: return in_place ? at::hardtanh_(x, 0, 6) : at::hardtanh(x, 0, 6);
    case Activation::kHardswish: return in_place ? at::hardswish_(x) : at::hardswish(x);
    case Activation::kSiLU: return in_place ? at::silu_(x) : at::silu(x);
    case Activation::kSigmoid: return in_place ? x.sigmoid_() : x.sigmoid();
    case Activation::kHardsigmoid: return in_place ? at::hardsigmoid_(x) : at::hardsigmoid(x);
  }
  return x;
}

at::Tensor add_then_activate(at::Tensor x, const at::Tensor& residual, Activation activation) {
  return activate(at::GradMode::is_enabled() ? x + residual : x.add_(residual), activation);
}

torch::nn::Conv2dOptions ConvSpec::to_options() const {
  return torch::nn::Conv2dOptions(in_channels(), out_channels(), kernel_size())
      .stride(stride())
      .padding(padding())
      .dilation(dilation())
      .groups(groups())
      .bias(bias());
}

FoldedConv FoldedConv::fold(const ConvSpec& spec, torch::nn::Conv2dImpl& conv, const torch::nn::BatchNorm2dImpl* bn,
                            const InferenceOptions& options) {
  at::NoGradGuard no_grad;
  FoldedConv folded;
  folded.spec = spec;
  // The folded weight takes over the convolution's storage (ConvBn::fold releases the
  // module's own tensors): a copy would leave freed memory behind in the process.
  folded.weight = conv.weight.detach();
  folded.bias = conv.bias.defined() ? conv.bias.detach() : at::Tensor();
  if (bn) {
    const at::Tensor scale = bn->weight / (bn->running_var + bn->options.eps()).sqrt();
    const at::Tensor conv_bias = folded.bias.defined() ? folded.bias : at::zeros_like(bn->running_mean);
    folded.weight.mul_(scale.reshape({-1, 1, 1, 1}));
    folded.bias = (conv_bias - bn->running_mean) * scale + bn->bias;
  }
  // int8 for the layers where it pays on large inputs; each call checks its own size (run).
  const bool int8 = options.int8 && QuantizedConv::available() && QuantizedConv::eligible(spec) &&
                    QuantizedConv::pays(spec, std::numeric_limits<int64_t>::max()) && folded.weight.device().is_cpu() &&
                    folded.weight.scalar_type() == at::kFloat &&
                    (options.dtype == at::kFloat || options.dtype == at::kBFloat16);
  if (int8) {
    folded.quantized = std::make_shared<QuantizedConv>(folded.weight, folded.bias, spec, options.dtype);
    folded.weight = at::Tensor();
    return folded;
  }
  const bool onednn = options.onednn && OneDnnConv::available() && folded.weight.device().is_cpu() &&
                      folded.weight.scalar_type() == at::kFloat && OneDnnConv::supports(options.dtype);
  if (onednn) {
    folded.onednn = std::make_shared<OneDnnConv>(std::move(folded.weight), folded.bias, spec, options.dtype);
    folded.weight = at::Tensor();
    return folded;
  }
  folded.weight =
      folded.weight.to(options.dtype)
          .contiguous(options.channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
  if (folded.bias.defined()) folded.bias = folded.bias.to(options.dtype);
  return folded;
}

at::Tensor FoldedConv::operator()(const at::Tensor& x, Activation activation) const {
  if (quantized) return quantized->run(x, activation);
  if (onednn) return (*onednn)(x, activation);
  const auto& s = spec;
  return activate(at::conv2d(x, weight, bias, {s.stride(), s.stride()}, {s.padding(), s.padding()},
                             {s.dilation(), s.dilation()}, s.groups()),
                  activation);
}

at::Tensor FoldedConv::operator()(const at::Tensor& x, Activation activation, const at::Tensor& residual,
                                  bool overwrite_residual) const {
  if (onednn && !quantized) return (*onednn)(x, activation, residual, overwrite_residual);
  return add_then_activate((*this)(x, Activation::kNone), residual, activation);
}

ConvBn::ConvBn(torch::nn::Module& parent, const std::string& conv_name, const std::string& bn_name,
               const ConvSpec& spec, double bn_eps, double bn_momentum)
    : conv(parent.register_module(conv_name, torch::nn::Conv2d(spec.to_options()))), spec_(spec) {
  if (bn_name.empty()) return;
  bn = parent.register_module(
      bn_name,
      torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(spec.out_channels()).eps(bn_eps).momentum(bn_momentum)));
}

at::Tensor ConvBn::operator()(const at::Tensor& x, Activation activation) {
  if (folded_) return (*folded_)(x, activation);
  const at::Tensor out = conv->forward(x);
  return activate(bn ? bn->forward(out) : out, activation);
}

at::Tensor ConvBn::operator()(const at::Tensor& x, Activation activation, const at::Tensor& residual,
                              bool overwrite_residual) {
  if (folded_) return (*folded_)(x, activation, residual, overwrite_residual);
  return add_then_activate((*this)(x, Activation::kNone), residual, activation);
}

void ConvBn::fold(const InferenceOptions& options) {
  if (folded_) return;
  folded_ = FoldedConv::fold(spec_, *conv, bn ? bn.get() : nullptr, options);
  // Only the folded copy is used from now on; keeping the originals would double the memory.
  at::NoGradGuard no_grad;
  std::vector<at::Tensor*> originals{&conv->weight, &conv->bias};
  if (bn) originals.insert(originals.end(), {&bn->weight, &bn->bias, &bn->running_mean, &bn->running_var});
  for (at::Tensor* t : originals) {
    if (t->defined()) t->set_data(at::empty({0}, t->options()));
  }
}

namespace {

// Whether a convolution's padding is zero: options.padding() is a c10::variant in LibTorch 1.13
// and a std::variant in 2.x; the unqualified get_if finds whichever it is.
template <class Padding>
bool zero_padding(const Padding& padding) {
  using namespace std;  // NOLINT(build/namespaces)
  using namespace c10;  // NOLINT(build/namespaces)
  const auto* values = get_if<torch::ExpandingArray<2>>(&padding);
  return values && (**values)[0] == 0 && (**values)[1] == 0;
}

// Whether `conv` tiles its output with one kernel per input pixel (stride = kernel, no padding,
// dilation or groups), as U-Net's up-convolutions do.
bool tiles_output(const torch::nn::ConvTranspose2dImpl& conv) {
  const auto& o = conv.options;
  return o.groups() == 1 && (*o.stride())[0] == (*o.kernel_size())[0] && (*o.stride())[1] == (*o.kernel_size())[1] &&
         (*o.dilation())[0] == 1 && (*o.dilation())[1] == 1 && (*o.output_padding())[0] == 0 &&
         (*o.output_padding())[1] == 0 && zero_padding(o.padding());
}

/// Rewrites `module` and, unless it rewrote them itself, its children; then converts what is
/// left of its own parameters and buffers.
void rewrite(torch::nn::Module& module, const InferenceOptions& options) {
  auto* optimizable = dynamic_cast<InferenceOptimizable*>(&module);
  if (optimizable) optimizable->optimize_for_inference(options);
  if (!optimizable || !optimizable->rewrites_children()) {
    for (const auto& child : module.children()) rewrite(*child, options);
  }
  at::NoGradGuard no_grad;
  // Convolutions without a BatchNorm to fold (VGG, U-Net's up-convolutions, heads' last
  // layers) keep their modules; their weights go channels-last too.
  const bool conv = dynamic_cast<torch::nn::Conv2dImpl*>(&module) != nullptr;
  auto* transposed = dynamic_cast<torch::nn::ConvTranspose2dImpl*>(&module);
  // Transposed convolutions stay float32 (LibTorch 1.13's bfloat16 one fails on the CPU) but
  // for those run as one matrix product (tiled_transposed_conv), which takes the model's type.
  const bool keep_float = transposed && !tiles_output(*transposed);
  // BatchNorm left unfolded (DenseNet's, before its convolutions) keeps float32 statistics
  // and affine weights: LibTorch normalizes bfloat16 input with them in float32, as autocast.
  const bool norm = dynamic_cast<torch::nn::BatchNorm2dImpl*>(&module) != nullptr;
  for (auto& p : module.parameters(/*recurse=*/false)) {
    if (p.is_floating_point() && !keep_float && !norm) p.set_data(p.to(options.dtype));
    if (options.channels_last && (conv || transposed) && p.dim() == 4) {
      p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
    }
  }
  for (auto& b : module.buffers(/*recurse=*/false)) {
    if (b.is_floating_point() && !norm) b.set_data(b.to(options.dtype));
  }
}

}  // namespace

void optimize_for_inference(torch::nn::Module& model, const InferenceOptions& options) { rewrite(model, options); }

at::Tensor tiled_transposed_conv(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t out = weight.size(1), kh = weight.size(2), kw = weight.size(3);
  // Every input pixel's channels times (C_in, kh * kw * C_out): each output pixel is one dot product
  // over the input channels, as in the transposed convolution.
  const at::Tensor matrix = weight.permute({0, 2, 3, 1}).reshape({c, kh * kw * out});
  at::Tensor y = at::matmul(x.permute({0, 2, 3, 1}).reshape({n * h * w, c}), matrix);
  y = y.view({n, h, w, kh, kw, out}).permute({0, 1, 3, 2, 4, 5}).reshape({n, h * kh, w * kw, out});
  if (bias.defined()) y = y + bias.to(y.scalar_type());
  return y.permute({0, 3, 1, 2});
}

at::Tensor transposed_conv(torch::nn::ConvTranspose2dImpl& conv, const at::Tensor& x) {
  if (tiles_output(conv)) {
    // Under autocast the matrix product takes x's reduced precision itself.
    const bool autocast = x.is_cuda() ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
    const at::ScalarType type = autocast ? x.scalar_type() : conv.weight.scalar_type();
    return tiled_transposed_conv(x.to(type), conv.weight, conv.bias).to(x.scalar_type());
  }
  const at::ScalarType type = conv.weight.scalar_type();
  if (x.scalar_type() == type) return conv.forward(x);
  return conv.forward(x.to(type)).to(x.scalar_type());
}

ConvNormActImpl::ConvNormActImpl(const ConvNormActOptions& options_) : options(options_) {
  const auto& o = options;
  conv_bn_ = ConvBn(*this, "0", "1",
                    ConvSpec(o.in_channels(), o.out_channels(), o.kernel_size())
                        .stride(o.stride())
                        .padding(o.dilation() * (o.kernel_size() - 1) / 2)
                        .dilation(o.dilation())
                        .groups(o.groups()),
                    o.bn_eps(), o.bn_momentum());
}

at::Tensor ConvNormActImpl::forward(const at::Tensor& x) { return conv_bn_(x, options.activation()); }

ConvActImpl::ConvActImpl(const ConvSpec& spec, Activation activation)
    : conv_(*this, "0", "", ConvSpec(spec).bias(true)), activation_(activation) {}

}  // namespace segkit
