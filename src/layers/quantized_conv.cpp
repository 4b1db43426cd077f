#include "segkit/layers/quantized_conv.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "segkit/core/runtime.h"

#if SEGKIT_WITH_ONEDNN
#include "onednn_support.h"
#include "segkit/layers/onednn_conv.h"
#endif

namespace segkit {

namespace {

constexpr float kStepsPerOctave = QuantizedConv::kScaleStepsPerOctave;

/// The step of a positive, finite scale (rounded up).
int scale_step(float scale) { return static_cast<int>(std::ceil(std::log2(scale) * kStepsPerOctave - 1e-4f)); }

float step_scale(int step) { return std::exp2(static_cast<float>(step) / kStepsPerOctave); }

}  // namespace

bool QuantizedConv::eligible(const ConvSpec& spec) { return spec.groups() == 1 && spec.in_channels() >= 16; }

bool QuantizedConv::pays(const ConvSpec& spec, int64_t output_pixels) {
  constexpr int64_t kManyPixels = 28 * 28, kFewPixels = 7 * 7;
  if (output_pixels >= kManyPixels) return spec.kernel_size() > 1 || spec.out_channels() >= 128;
  if (output_pixels < kFewPixels) return false;
  return spec.kernel_size() > 1 ? spec.out_channels() >= 64 : spec.out_channels() >= 2 * spec.in_channels();
}

float QuantizedConv::input_scale(float min, float max) {
  const float largest = std::max(std::fabs(min), std::fabs(max));
  if (!std::isfinite(largest) || largest == 0) return 1;
  return step_scale(scale_step(largest / (min < 0 ? 127.f : 255.f)));
}

#if SEGKIT_WITH_ONEDNN

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using onednn::Buffer;
using onednn::engine;

}  // namespace

struct QuantizedConv::Impl {
  /// One input size, activation, sign and scale step: the kernel and its input's quantizer.
  struct Kernel {
    dnnl::convolution_forward conv;
    dnnl::reorder quantize;                       // the input, in its type, to 8-bit integers
    memory::desc quantize_scratch, conv_scratch;  // each one's scratch memory
    memory::desc user_src, src, dst;
    memory weights;
    at::Tensor weights_storage;
    at::Tensor bias;  // over the output scales: oneDNN 2 adds it to the integer sums before scaling
    memory bias_mem;
    bool fused = false;
    std::vector<int64_t> out_shape;
  };

  ConvSpec spec{1, 1, 1};
  at::ScalarType scalar_type = at::kFloat;
  memory::data_type type = memory::data_type::f32;
  at::Tensor weight_q;  // int8, out x in x k x k: packed anew for each layout a kernel wants
  std::vector<float> weight_scales;
  at::Tensor bias;
  std::vector<std::pair<memory::desc, Buffer>> packed;
  // Shared: a caller keeps its kernel while another thread's call clears the cache.
  // By batch, height, width, activation, sign, scale step and the calling thread's threads
  // (oneDNN shares a kernel's work among as many as there were when it was built).
  std::map<std::tuple<int64_t, int64_t, int64_t, int, bool, int, int>, std::shared_ptr<const Kernel>> kernels;
  std::shared_ptr<const OneDnnConv> fallback;  // where int8 does not pay: made on first need
  std::mutex mutex;

  memory::dims weight_dims() const {
    const int64_t k = spec.kernel_size();
    return {spec.out_channels(), spec.in_channels(), k, k};
  }

  const Buffer& weights_as(const memory::desc& desc, dnnl::stream& stream) {
    for (const auto& [made, buffer] : packed) {
      if (made == desc) return buffer;
    }
    memory plain(memory::desc(weight_dims(), memory::data_type::s8, Tag::oihw), engine(), weight_q.data_ptr());
    Buffer buffer(desc);
    dnnl::reorder(plain, buffer.mem).execute(stream, plain, buffer.mem);  // with int8 input's compensation
    stream.wait();
    packed.emplace_back(desc, std::move(buffer));
    return packed.back().second;
  }

  /// Drops the packed layouts no kernel holds any more.
  void drop_unused() {
    packed.erase(std::remove_if(packed.begin(), packed.end(),
                                [](const auto& layout) { return layout.second.storage.use_count() == 1; }),
                 packed.end());
  }

  Kernel build(int64_t n, int64_t height, int64_t width, Activation activation, bool is_signed, int step,
               dnnl::stream& stream) {
    const auto& s = spec;
    const auto [out_h, out_w] = onednn::output_size(s, height, width);
    const float scale = step_scale(step);
    const auto integer = is_signed ? memory::data_type::s8 : memory::data_type::u8;
    Kernel kernel;
    kernel.out_shape = {n, s.out_channels(), out_h, out_w};
    kernel.user_src = memory::desc({n, s.in_channels(), height, width}, type, Tag::nhwc);
    kernel.src = memory::desc({n, s.in_channels(), height, width}, integer, Tag::nhwc);
    kernel.dst = memory::desc({n, s.out_channels(), out_h, out_w}, type, Tag::nhwc);

    dnnl::primitive_attr quantize_attr = onednn::shareable_attr();
    quantize_attr.set_output_scales(0, {1 / scale});
    const dnnl::reorder::primitive_desc quantize(engine(), kernel.user_src, engine(), kernel.src, quantize_attr);
    kernel.quantize = dnnl::reorder(quantize);
    kernel.quantize_scratch = quantize.scratchpad_desc();

    std::vector<float> scales(weight_scales.size());
    for (size_t o = 0; o < scales.size(); ++o) scales[o] = weight_scales[o] * scale;
    kernel.bias = bias / at::tensor(scales);
    kernel.bias_mem =
        memory(memory::desc({s.out_channels()}, memory::data_type::f32, Tag::x), engine(), kernel.bias.data_ptr());
    dnnl::post_ops ops;
    kernel.fused = onednn::append_activation(ops, activation);
    dnnl::primitive_attr attr = onednn::shareable_attr();
    attr.set_output_scales(1 << 1, scales);  // per output channel
    attr.set_post_ops(ops);
    const memory::dims strides{s.stride(), s.stride()}, dilates{s.dilation() - 1, s.dilation() - 1},
        padding{s.padding(), s.padding()};
    const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                               kernel.src, memory::desc(weight_dims(), memory::data_type::s8, Tag::any),
                                               memory::desc({s.out_channels()}, memory::data_type::f32, Tag::x),
                                               kernel.dst, strides, dilates, padding, padding);
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine());
    kernel.conv = dnnl::convolution_forward(pd);
    kernel.conv_scratch = pd.scratchpad_desc();
    const Buffer& weights = weights_as(pd.weights_desc(), stream);
    kernel.weights = weights.mem;
    kernel.weights_storage = weights.storage;
    return kernel;
  }
};

bool QuantizedConv::available() { return cpu_has_vnni(); }

QuantizedConv::QuantizedConv(const at::Tensor& weight, const at::Tensor& bias, const ConvSpec& spec,
                             at::ScalarType dtype)
    : impl_(std::make_unique<Impl>()) {
  if (weight.scalar_type() != at::kFloat || !weight.device().is_cpu() || weight.dim() != 4) {
    throw std::invalid_argument("int8 convolutions take float32 CPU weights");
  }
  if (dtype != at::kFloat && dtype != at::kBFloat16) {
    throw std::invalid_argument("int8 convolutions take and give float32 or bfloat16 data");
  }
  if (!eligible(spec)) throw std::invalid_argument("int8 convolutions are not grouped and take 16 channels or more");
  impl_->spec = spec;
  impl_->scalar_type = dtype;
  impl_->type = dtype == at::kBFloat16 ? memory::data_type::bf16 : memory::data_type::f32;
  at::NoGradGuard no_grad;
  const at::Tensor w = weight.contiguous();
  at::Tensor scales = w.abs().amax({1, 2, 3}) / 127;
  scales = at::where(scales > 0, scales, at::ones_like(scales));
  impl_->weight_q = (w / scales.reshape({-1, 1, 1, 1})).round_().clamp_(-127, 127).to(at::kChar).contiguous();
  impl_->weight_scales.assign(scales.data_ptr<float>(), scales.data_ptr<float>() + scales.numel());
  impl_->bias = bias.defined() ? bias.to(at::kFloat).contiguous() : at::zeros({spec.out_channels()}, at::kFloat);
}

QuantizedConv::~QuantizedConv() = default;

at::Tensor QuantizedConv::dequantized_weight() const {
  const at::Tensor scales = at::tensor(impl_->weight_scales);
  return impl_->weight_q.to(at::kFloat) * scales.reshape({-1, 1, 1, 1});
}

at::Tensor QuantizedConv::operator()(const at::Tensor& x, Activation activation) const {
  if (x.dim() != 4 || x.scalar_type() != impl_->scalar_type || !x.device().is_cpu() ||
      x.size(1) != impl_->spec.in_channels()) {
    throw std::invalid_argument("an int8 convolution takes N x " + std::to_string(impl_->spec.in_channels()) +
                                " x H x W " + c10::toString(impl_->scalar_type) + " CPU input");
  }
  const at::Tensor input = x.contiguous(at::MemoryFormat::ChannelsLast);
  const int64_t batch = input.size(0);
  float min = 0, max = 0;
  if (input.numel() > 0) {
    // Over the data as one row: LibTorch 1.13 reduces a 4-D tensor to a scalar 30-40x slower.
    const auto [low, high] = at::aminmax(input.permute({0, 2, 3, 1}).reshape({-1}));
    min = low.item<float>();
    max = high.item<float>();
  }
  const bool is_signed = min < 0;
  const int step = scale_step(input_scale(min, max));
  dnnl::stream stream(engine());
  const std::tuple<int64_t, int64_t, int64_t, int, bool, int, int> key{
      batch, input.size(2), input.size(3), static_cast<int>(activation), is_signed, step, threads_here()};
  std::shared_ptr<const Impl::Kernel> kernel;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    auto found = impl_->kernels.find(key);
    if (found == impl_->kernels.end()) {
      // A layer meets few input ranges; a stream of new sizes would hold a kernel for each.
      if (impl_->kernels.size() >= 64) impl_->kernels.clear();
      auto built = std::make_shared<const Impl::Kernel>(
          impl_->build(batch, input.size(2), input.size(3), activation, is_signed, step, stream));
      found = impl_->kernels.emplace(key, std::move(built)).first;
      impl_->drop_unused();
    }
    kernel = found->second;
  }
  at::Tensor out = at::empty(kernel->out_shape, x.options().memory_format(at::MemoryFormat::ChannelsLast));
  if (batch == 0) return out;
  const at::Tensor quantized =
      at::empty(input.sizes(),
                input.options().dtype(is_signed ? at::kChar : at::kByte).memory_format(at::MemoryFormat::ChannelsLast));
  memory user_src(kernel->user_src, engine(), input.data_ptr());
  memory src(kernel->src, engine(), quantized.data_ptr());
  memory dst(kernel->dst, engine(), out.data_ptr());
  const onednn::Scratch scratch(
      {kernel->quantize_scratch, kernel->conv_scratch});  // this call's: other threads may run the kernel at once
  kernel->quantize.execute(
      stream,
      {{DNNL_ARG_FROM, user_src}, {DNNL_ARG_TO, src}, {DNNL_ARG_SCRATCHPAD, scratch.as(kernel->quantize_scratch)}});
  kernel->conv.execute(stream, {{DNNL_ARG_SRC, src},
                                {DNNL_ARG_WEIGHTS, kernel->weights},
                                {DNNL_ARG_BIAS, kernel->bias_mem},
                                {DNNL_ARG_DST, dst},
                                {DNNL_ARG_SCRATCHPAD, scratch.as(kernel->conv_scratch)}});
  stream.wait();
  return kernel->fused ? out : activate(out, activation);
}

at::Tensor QuantizedConv::run(const at::Tensor& x, Activation activation) const {
  const auto& s = impl_->spec;
  int64_t pixels = 0;
  if (x.dim() == 4) {
    const auto [height, width] = onednn::output_size(s, x.size(2), x.size(3));
    pixels = x.size(0) * height * width;
  }
  // int8 where it pays; operator() also refuses what neither path can run, naming the problem.
  if (pixels == 0 || pays(s, pixels) || x.scalar_type() != impl_->scalar_type) return (*this)(x, activation);
  std::shared_ptr<const OneDnnConv> fallback;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (!impl_->fallback) {
      impl_->fallback = std::make_shared<const OneDnnConv>(dequantized_weight(), impl_->bias, s, impl_->scalar_type);
    }
    fallback = impl_->fallback;
  }
  return (*fallback)(x, activation);
}

#else  // built without oneDNN

struct QuantizedConv::Impl {};

bool QuantizedConv::available() { return false; }

QuantizedConv::QuantizedConv(const at::Tensor&, const at::Tensor&, const ConvSpec&, at::ScalarType) {
  throw std::logic_error("segkit was built without oneDNN (SEGKIT_WITH_ONEDNN)");
}

QuantizedConv::~QuantizedConv() = default;

at::Tensor QuantizedConv::dequantized_weight() const {
  throw std::logic_error("segkit was built without oneDNN (SEGKIT_WITH_ONEDNN)");
}

at::Tensor QuantizedConv::operator()(const at::Tensor&, Activation) const {
  throw std::logic_error("segkit was built without oneDNN (SEGKIT_WITH_ONEDNN)");
}

at::Tensor QuantizedConv::run(const at::Tensor&, Activation) const {
  throw std::logic_error("segkit was built without oneDNN (SEGKIT_WITH_ONEDNN)");
}

#endif

}  // namespace segkit
