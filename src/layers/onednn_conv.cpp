#include "segkit/layers/onednn_conv.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#if SEGKIT_WITH_ONEDNN
#include "onednn_support.h"
#include "segkit/core/runtime.h"
#endif

namespace segkit {

#if SEGKIT_WITH_ONEDNN

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using onednn::append_activation;
using onednn::Buffer;
using onednn::engine;
using onednn::Scratch;
using onednn::shareable_attr;

}  // namespace

std::pair<int64_t, int64_t> onednn::output_size(const ConvSpec& s, int64_t height, int64_t width) {
  const int64_t k = s.kernel_size(), extent = s.dilation() * (k - 1) + 1;
  const int64_t out_h = (height + 2 * s.padding() - extent) / s.stride() + 1;
  const int64_t out_w = (width + 2 * s.padding() - extent) / s.stride() + 1;
  if (out_h < 1 || out_w < 1) {
    throw std::invalid_argument("input of " + std::to_string(height) + "x" + std::to_string(width) +
                                " is too small for a " + std::to_string(k) + "x" + std::to_string(k) + " convolution");
  }
  return {out_h, out_w};
}

struct OneDnnConv::Impl {
  /// One input size and activation: the kernel, and what it needs around it.
  struct Kernel {
    dnnl::convolution_forward conv;
    memory::desc src, dst;                                        // the kernel's layouts
    memory::desc user_src, user_dst;                              // channels-last
    std::optional<dnnl::reorder> to_src, from_dst;                // when the two differ
    memory::desc conv_scratch, to_src_scratch, from_dst_scratch;  // each one's scratch memory
    memory weights;
    at::Tensor weights_storage;  // what `weights` points into, held while the kernel is
    bool fused = false;          // the activation ran as a post-op
  };

  /// The weights packed in one layout.
  struct Packed {
    memory::desc desc;
    Buffer buffer;
    bool winograd;
  };

  ConvSpec spec{1, 1, 1};
  memory::data_type type = memory::data_type::f32;  // of the data and the packed weights
  at::ScalarType scalar_type = at::kFloat;
  at::Tensor plain_weight;  // until first packed
  at::Tensor bias;
  memory bias_mem;
  /// The layouts the cached kernels use, and the newest one that is not Winograd's: oneDNN
  /// cannot reorder out of those, so new layouts are made from it.
  std::vector<Packed> packed;
  // By images per call, input height and width, activation, whether a residual is summed, the
  // calling thread's threads (oneDNN shares a kernel's work among as many as there were when it
  // was built), and the rows of padding above and below.
  using Key = std::tuple<int64_t, int64_t, int64_t, int, bool, int, int64_t, int64_t>;
  std::map<Key, Kernel> kernels;
  std::mutex mutex;

  memory::dims weight_dims() const {
    const auto& s = spec;
    const int64_t k = s.kernel_size();
    if (s.groups() == 1) return {s.out_channels(), s.in_channels(), k, k};
    return {s.groups(), s.out_channels() / s.groups(), s.in_channels() / s.groups(), k, k};
  }

  /// Whether some input size may take the Winograd kernel (see winograd_tiling). Not for
  /// fewer than 64 channels on either side: its transforms then cost more than they save (a
  /// U-Net's 1 -> 64 layer 4x slower than the direct kernel, 16 -> 16 3x, 16 -> 64 1.25x;
  /// bench/RESULTS.md).
  bool winograd_capable() const {
    const auto& s = spec;
    return type == memory::data_type::f32 && s.kernel_size() == 3 && s.stride() == 1 && s.dilation() == 1 &&
           s.groups() == 1 && s.in_channels() * s.out_channels() <= 256 * 256 &&
           std::min(s.in_channels(), s.out_channels()) >= 64;
  }

  /// The newest layout that is not Winograd's (one always exists once constructed).
  Packed* newest_direct() {
    Packed* direct = nullptr;
    for (Packed& p : packed) direct = p.winograd ? direct : &p;
    return direct;
  }

  /// The weights in `desc`'s layout, packed if no kernel has them yet.
  const Packed& weights_as(const memory::desc& desc, bool winograd, dnnl::stream& stream) {
    for (const Packed& p : packed) {
      if (p.desc == desc) return p;
    }
    const memory::desc plain(weight_dims(), memory::data_type::f32, spec.groups() == 1 ? Tag::oihw : Tag::goihw);
    at::Tensor unpacked = plain_weight;
    Packed* direct = newest_direct();
    if (!unpacked.defined() && winograd) {  // back to the plain layout first (Winograd: float32 only)
      unpacked = at::empty(weight_dims(), at::kFloat);
      memory to(plain, engine(), unpacked.data_ptr());
      dnnl::reorder(direct->buffer.mem, to).execute(stream, direct->buffer.mem, to);
    }
    memory source = unpacked.defined() ? memory(plain, engine(), unpacked.data_ptr()) : direct->buffer.mem;
    Packed made{desc, Buffer(desc), winograd};
    dnnl::reorder(source, made.buffer.mem).execute(stream, source, made.buffer.mem);
    stream.wait();
    plain_weight = at::Tensor();  // packed: the plain copy would double the memory
    packed.push_back(std::move(made));
    return packed.back();
  }

  /// Drops the layouts no cached kernel holds, but for the newest one that is not Winograd's.
  void drop_unused() {
    std::vector<Packed> kept;
    const Packed* direct = newest_direct();
    for (Packed& p : packed) {
      if (&p == direct || p.buffer.storage.use_count() > 1) kept.push_back(std::move(p));
    }
    packed = std::move(kept);
  }

  /// The kernel for n x in_channels x height x width inputs, padded by `pad_top` and
  /// `pad_bottom` rows (a strip of an image: see winograd_tiling) or as the spec says (-1).
  /// `sum`: the kernel adds what its output memory holds (a residual) before the activation.
  Kernel build(int64_t n, int64_t height, int64_t width, Activation activation, bool sum, bool winograd,
               dnnl::stream& stream, int64_t pad_top = -1, int64_t pad_bottom = -1) {
    const auto& s = spec;
    if (pad_top < 0) pad_top = pad_bottom = s.padding();
    const int64_t out_h = onednn::output_size(s, height + pad_top + pad_bottom - 2 * s.padding(), width).first;
    const int64_t out_w = onednn::output_size(s, height, width).second;
    const auto f32 = memory::data_type::f32;
    Kernel kernel;
    kernel.user_src = memory::desc({n, s.in_channels(), height, width}, type, Tag::nhwc);
    kernel.user_dst = memory::desc({n, s.out_channels(), out_h, out_w}, type, Tag::nhwc);
    dnnl::post_ops ops;
    if (sum) ops.append_sum(1.f);
    kernel.fused = append_activation(ops, activation);
    dnnl::primitive_attr attr = shareable_attr();
    attr.set_post_ops(ops);
    const memory::desc any_weights(weight_dims(), type, Tag::any);
    const memory::desc bias_desc({s.out_channels()}, f32, Tag::x);
    const memory::dims strides{s.stride(), s.stride()}, dilates{s.dilation() - 1, s.dilation() - 1},
        padding_before{pad_top, s.padding()}, padding_after{pad_bottom, s.padding()};
    auto primitive_desc = [&](dnnl::algorithm algorithm, const memory::desc& src, const memory::desc& dst,
                              const memory::desc& weights) {
      dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, src, weights, bias_desc, dst,
                                           strides, dilates, padding_before, padding_after);
      return dnnl::convolution_forward::primitive_desc(desc, attr, engine());
    };
    dnnl::convolution_forward::primitive_desc pd;
    bool winograd_built = false;
    if (winograd) {
      try {  // Winograd wants its own blocked layout for the data too
        const memory::desc any_src({n, s.in_channels(), height, width}, f32, Tag::any);
        const memory::desc any_dst({n, s.out_channels(), out_h, out_w}, f32, Tag::any);
        pd = primitive_desc(dnnl::algorithm::convolution_winograd, any_src, any_dst, any_weights);
        winograd_built = true;
      } catch (const dnnl::error&) {  // not on this CPU: the direct kernel below
      }
    }
    if (!winograd_built) {
      pd = primitive_desc(dnnl::algorithm::convolution_direct, kernel.user_src, kernel.user_dst, any_weights);
    }
    kernel.conv = dnnl::convolution_forward(pd);
    kernel.conv_scratch = pd.scratchpad_desc();
    kernel.src = pd.src_desc();
    kernel.dst = pd.dst_desc();
    if (kernel.src != kernel.user_src) {
      const dnnl::reorder::primitive_desc reorder(engine(), kernel.user_src, engine(), kernel.src, shareable_attr());
      kernel.to_src = dnnl::reorder(reorder);
      kernel.to_src_scratch = reorder.scratchpad_desc();
    }
    if (kernel.dst != kernel.user_dst) {
      const dnnl::reorder::primitive_desc reorder(engine(), kernel.dst, engine(), kernel.user_dst, shareable_attr());
      kernel.from_dst = dnnl::reorder(reorder);
      kernel.from_dst_scratch = reorder.scratchpad_desc();
    }
    const Packed& weights = weights_as(pd.weights_desc(), winograd_built, stream);
    kernel.weights = weights.buffer.mem;
    kernel.weights_storage = weights.buffer.storage;
    return kernel;
  }
};

bool OneDnnConv::available() { return true; }

bool OneDnnConv::supports(at::ScalarType dtype) { return dtype == at::kFloat || dtype == at::kBFloat16; }

OneDnnConv::OneDnnConv(at::Tensor weight, at::Tensor bias, const ConvSpec& spec, at::ScalarType dtype)
    : impl_(std::make_unique<Impl>()) {
  if (weight.scalar_type() != at::kFloat || !weight.device().is_cpu()) {
    throw std::invalid_argument("oneDNN convolutions take float32 CPU weights");
  }
  if (!supports(dtype)) throw std::invalid_argument("oneDNN convolutions compute in float32 or bfloat16");
  impl_->spec = spec;
  impl_->scalar_type = dtype;
  impl_->type = dtype == at::kBFloat16 ? memory::data_type::bf16 : memory::data_type::f32;
  impl_->plain_weight = weight.contiguous();
  impl_->bias = bias.defined() ? bias.to(at::kFloat).contiguous() : at::zeros({spec.out_channels()}, at::kFloat);
  impl_->bias_mem =
      memory(memory::desc({spec.out_channels()}, memory::data_type::f32, Tag::x), engine(), impl_->bias.data_ptr());
  // Packed now, while the model is rewritten, and the plain weight released: layouts for
  // other kernels are made from this one when they are first needed.
  const int64_t side = std::max<int64_t>(32, spec.dilation() * (spec.kernel_size() - 1) + 1);
  dnnl::stream stream(engine());
  impl_->build(1, side, side, Activation::kNone, false, false, stream);
}

OneDnnConv::~OneDnnConv() = default;

OneDnnConv::Tiling OneDnnConv::winograd_tiling(int64_t batch, int64_t height, int64_t width) const {
  // Winograd's packed weights are 4x the plain ones: kept to layers where that stays small
  // and the output is large enough for its 4x4 tiles to pay off. Its blocked copies of the
  // data and its transforms grow with what one call takes: whole images, a divisor of the
  // batch (one weight layout), at most kImages of channels-last input and output; an image
  // over that goes in strips of rows, kStrip of input and output each, which also runs faster
  // than whole images (its transforms stay in the caches). Measured: bench/RESULTS.md.
  constexpr int64_t kImages = int64_t{16} << 20, kStrip = int64_t{4} << 20, kRowsAlign = 4;  // 4x4 tiles
  const auto& s = impl_->spec;
  if (!impl_->winograd_capable() || height < 28 || width < 28 || batch < 1) return {};
  const int64_t per_image = height * width * (s.in_channels() + s.out_channels()) * 4;
  for (int64_t chunk = batch; chunk >= 1; --chunk) {
    if (batch % chunk == 0 && chunk * per_image <= kImages) return {chunk, 0};
  }
  const int64_t out_h = onednn::output_size(s, height, width).first;
  const int64_t rows = std::max(kRowsAlign, kStrip / (per_image / height) / kRowsAlign * kRowsAlign);
  return rows < out_h ? Tiling{1, rows} : Tiling{1, 0};
}

at::Tensor OneDnnConv::operator()(const at::Tensor& x, Activation activation) const {
  return run(x, activation, nullptr, false);
}

at::Tensor OneDnnConv::operator()(const at::Tensor& x, Activation activation, const at::Tensor& residual,
                                  bool overwrite_residual) const {
  return run(x, activation, &residual, overwrite_residual);
}

at::Tensor OneDnnConv::run(const at::Tensor& x, Activation activation, const at::Tensor* residual,
                           bool overwrite) const {
  if (x.dim() != 4 || x.scalar_type() != impl_->scalar_type || !x.device().is_cpu() ||
      x.size(1) != impl_->spec.in_channels()) {
    throw std::invalid_argument("a convolution rewritten for oneDNN takes N x " +
                                std::to_string(impl_->spec.in_channels()) + " x H x W " +
                                c10::toString(impl_->scalar_type) + " CPU input");
  }
  const at::Tensor input = x.contiguous(at::MemoryFormat::ChannelsLast);
  const int64_t batch = x.size(0), height = x.size(2), width = x.size(3);
  const Tiling tiling = winograd_tiling(batch, height, width);
  const bool winograd = tiling.images > 0;
  dnnl::stream stream(engine());
  const auto [out_h, out_w] = onednn::output_size(impl_->spec, height, width);
  if (residual != nullptr) {
    if (residual->sizes() != at::IntArrayRef({batch, impl_->spec.out_channels(), out_h, out_w}) ||
        residual->scalar_type() != impl_->scalar_type || !residual->device().is_cpu()) {
      throw std::invalid_argument("a convolution's residual must be its output's shape and type");
    }
  }
  // Winograd's output is blocked: its residual is added after, as its activation then is.
  const bool sum = residual != nullptr && !winograd;
  const Activation fused_activation = residual != nullptr && !sum ? Activation::kNone : activation;

  // The calls: each a kernel, and where its input and output start (in bytes from the batch's).
  struct Call {
    const Impl::Kernel* kernel;
    int64_t src_offset, dst_offset;
  };
  std::vector<Call> calls;
  const int64_t in_image = batch > 0 ? input.nbytes() / batch : 0;
  const int64_t out_image = out_h * out_w * impl_->spec.out_channels() * input.element_size();
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    const auto kernel = [&](int64_t images, int64_t in_rows, int64_t pad_top, int64_t pad_bottom) {
      const Impl::Key key{images, in_rows,        width,   static_cast<int>(fused_activation),
                          sum,    threads_here(), pad_top, pad_bottom};
      auto found = impl_->kernels.find(key);
      if (found == impl_->kernels.end()) {
        Impl::Kernel built =
            impl_->build(images, in_rows, width, fused_activation, sum, winograd, stream, pad_top, pad_bottom);
        found = impl_->kernels.emplace(key, std::move(built)).first;
        impl_->drop_unused();
      }
      return &found->second;
    };
    const int64_t pad = impl_->spec.padding(), rows = tiling.rows;
    if (rows == 0) {  // whole images, `step` a call (the images of one call lie together: NHWC)
      const int64_t step = winograd ? tiling.images : std::max<int64_t>(batch, 1);
      for (int64_t first = 0; first < batch; first += step) {
        calls.push_back({kernel(step, height, pad, pad), first * in_image, first * out_image});
      }
    } else {  // strips of `rows` output rows, the last one moved up to end with the image's
      const int64_t in_row = in_image / height, out_row = out_image / out_h, reach = 2;  // 3x3
      for (int64_t image = 0; image < batch; ++image) {
        for (int64_t next = 0; next < out_h; next += rows) {
          const int64_t top = std::min(next, out_h - rows), first_in = top - pad, end_in = top + rows + reach - pad;
          const int64_t pad_top = std::max<int64_t>(0, -first_in), pad_bottom = std::max<int64_t>(0, end_in - height);
          calls.push_back({kernel(1, end_in - first_in - pad_top - pad_bottom, pad_top, pad_bottom),
                           image * in_image + (first_in + pad_top) * in_row, image * out_image + top * out_row});
        }
      }
    }
  }
  const std::vector<int64_t> out_shape{batch, impl_->spec.out_channels(), out_h, out_w};
  // With a sum, the kernel adds what the output holds: the residual, or a copy of it.
  at::Tensor out;
  if (sum) {
    const bool in_place = overwrite && residual->is_contiguous(at::MemoryFormat::ChannelsLast);
    out = in_place ? *residual : residual->clone(at::MemoryFormat::ChannelsLast);
  } else {
    out = at::empty(out_shape, x.options().memory_format(at::MemoryFormat::ChannelsLast));
  }
  // This call's memory (other threads may run the same kernels at once): the scratch, and the
  // blocked copies of the data where a kernel wants them, as large as the largest kernel's.
  std::vector<memory::desc> scratch_descs, src_descs, dst_descs;
  for (const Call& call : calls) {
    const Impl::Kernel& k = *call.kernel;
    scratch_descs.insert(scratch_descs.end(), {k.conv_scratch, k.to_src_scratch, k.from_dst_scratch});
    if (k.to_src) src_descs.push_back(k.src);
    if (k.from_dst) dst_descs.push_back(k.dst);
  }
  const Scratch scratch(scratch_descs), src_blocked(src_descs), dst_blocked(dst_descs);
  for (const Call& call : calls) {
    const Impl::Kernel& k = *call.kernel;
    memory src(k.user_src, engine(), static_cast<char*>(input.data_ptr()) + call.src_offset);
    memory dst(k.user_dst, engine(), static_cast<char*>(out.data_ptr()) + call.dst_offset);
    memory src_k = k.to_src ? src_blocked.as(k.src) : src, dst_k = k.from_dst ? dst_blocked.as(k.dst) : dst;
    if (k.to_src) {
      k.to_src->execute(
          stream, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, src_k}, {DNNL_ARG_SCRATCHPAD, scratch.as(k.to_src_scratch)}});
    }
    k.conv.execute(stream, {{DNNL_ARG_SRC, src_k},
                            {DNNL_ARG_WEIGHTS, k.weights},
                            {DNNL_ARG_BIAS, impl_->bias_mem},
                            {DNNL_ARG_DST, dst_k},
                            {DNNL_ARG_SCRATCHPAD, scratch.as(k.conv_scratch)}});
    if (k.from_dst) {
      k.from_dst->execute(
          stream, {{DNNL_ARG_FROM, dst_k}, {DNNL_ARG_TO, dst}, {DNNL_ARG_SCRATCHPAD, scratch.as(k.from_dst_scratch)}});
    }
  }
  stream.wait();
  if (residual != nullptr && !sum) return add_then_activate(out, *residual, activation);
  return calls.empty() || calls.front().kernel->fused ? out : activate(out, activation);
}

#else  // built without oneDNN

struct OneDnnConv::Impl {};

bool OneDnnConv::available() { return false; }

bool OneDnnConv::supports(at::ScalarType) { return false; }

OneDnnConv::OneDnnConv(at::Tensor, at::Tensor, const ConvSpec&, at::ScalarType) {
  throw std::logic_error("segkit was built without oneDNN (SEGKIT_WITH_ONEDNN)");
}

OneDnnConv::~OneDnnConv() = default;

OneDnnConv::Tiling OneDnnConv::winograd_tiling(int64_t, int64_t, int64_t) const { return {}; }

at::Tensor OneDnnConv::operator()(const at::Tensor&, Activation) const {
  throw std::logic_error("segkit was built without oneDNN (SEGKIT_WITH_ONEDNN)");
}

at::Tensor OneDnnConv::operator()(const at::Tensor&, Activation, const at::Tensor&, bool) const {
  throw std::logic_error("segkit was built without oneDNN (SEGKIT_WITH_ONEDNN)");
}

#endif

}  // namespace segkit
