#include "segkit/layers/onednn_linear.h"

#include <ATen/ATen.h>

#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

#include "segkit/layers/onednn_conv.h"

#if SEGKIT_WITH_ONEDNN
#include "onednn_support.h"
#include "segkit/core/runtime.h"
#endif

namespace segkit {

#if SEGKIT_WITH_ONEDNN

namespace {

using dnnl::memory;
using Tag = memory::format_tag;

}  // namespace

struct OneDnnLinear::Impl {
  struct Kernel {
    dnnl::inner_product_forward product;
    memory::desc src, dst, scratch;
    bool fused = false;  // the activation ran as a post-op
  };

  at::Tensor weight, bias;  // out x in in the computing type; float32
  memory weight_mem, bias_mem;
  memory::data_type type = memory::data_type::f32;
  at::ScalarType scalar_type = at::kFloat;
  // By batch, activation and the calling thread's threads (oneDNN shares a kernel's work among
  // as many as there were when it was built).
  std::map<std::tuple<int64_t, int, int>, Kernel> kernels;
  std::mutex mutex;

  Kernel build(int64_t batch, Activation activation) const {
    const int64_t out = weight.size(0), in = weight.size(1);
    dnnl::post_ops ops;
    Kernel kernel;
    kernel.fused = onednn::append_activation(ops, activation);
    dnnl::primitive_attr attr = onednn::shareable_attr();
    attr.set_post_ops(ops);
    kernel.src = memory::desc({batch, in}, type, Tag::ab);
    kernel.dst = memory::desc({batch, out}, type, Tag::ab);
    const dnnl::inner_product_forward::desc desc(dnnl::prop_kind::forward_inference, kernel.src, weight_mem.get_desc(),
                                                 bias_mem.get_desc(), kernel.dst);
    const dnnl::inner_product_forward::primitive_desc pd(desc, attr, onednn::engine());
    kernel.product = dnnl::inner_product_forward(pd);
    kernel.scratch = pd.scratchpad_desc();
    return kernel;
  }
};

OneDnnLinear::OneDnnLinear(const at::Tensor& weight, const at::Tensor& bias, at::ScalarType dtype)
    : impl_(std::make_unique<Impl>()) {
  if (weight.dim() != 2 || weight.scalar_type() != at::kFloat || !weight.device().is_cpu()) {
    throw std::invalid_argument("oneDNN linear layers take out x in float32 CPU weights");
  }
  if (!OneDnnConv::supports(dtype)) throw std::invalid_argument("oneDNN linear layers compute in float32 or bfloat16");
  impl_->scalar_type = dtype;
  impl_->type = dtype == at::kBFloat16 ? memory::data_type::bf16 : memory::data_type::f32;
  // A tensor of its own (detach): the module's parameter may be released or converted after.
  impl_->weight = weight.detach().to(dtype).contiguous();
  impl_->bias = bias.defined() ? bias.detach().to(at::kFloat).contiguous() : at::zeros({weight.size(0)}, at::kFloat);
  const auto& engine = onednn::engine();
  impl_->weight_mem =
      memory({{weight.size(0), weight.size(1)}, impl_->type, Tag::ab}, engine, impl_->weight.data_ptr());
  impl_->bias_mem = memory({{weight.size(0)}, memory::data_type::f32, Tag::x}, engine, impl_->bias.data_ptr());
}

OneDnnLinear::~OneDnnLinear() = default;

at::Tensor OneDnnLinear::operator()(const at::Tensor& x, Activation activation) const {
  const int64_t out = impl_->weight.size(0), in = impl_->weight.size(1);
  if (x.dim() != 2 || x.size(1) != in || x.scalar_type() != impl_->scalar_type || !x.device().is_cpu()) {
    throw std::invalid_argument("a linear layer rewritten for oneDNN takes N x " + std::to_string(in) + " " +
                                c10::toString(impl_->scalar_type) + " CPU input");
  }
  const at::Tensor input = x.contiguous();
  const int64_t batch = x.size(0);
  at::Tensor result = at::empty({batch, out}, x.options());
  if (batch == 0) return result;
  const Impl::Kernel* kernel = nullptr;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    const auto key = std::make_tuple(batch, static_cast<int>(activation), threads_here());
    auto found = impl_->kernels.find(key);
    if (found == impl_->kernels.end()) found = impl_->kernels.emplace(key, impl_->build(batch, activation)).first;
    kernel = &found->second;
  }
  const auto& engine = onednn::engine();
  const onednn::Scratch scratch({kernel->scratch});
  dnnl::stream stream(engine);
  kernel->product.execute(stream, {{DNNL_ARG_SRC, memory(kernel->src, engine, input.data_ptr())},
                                   {DNNL_ARG_WEIGHTS, impl_->weight_mem},
                                   {DNNL_ARG_BIAS, impl_->bias_mem},
                                   {DNNL_ARG_DST, memory(kernel->dst, engine, result.data_ptr())},
                                   {DNNL_ARG_SCRATCHPAD, scratch.as(kernel->scratch)}});
  stream.wait();
  return kernel->fused ? result : activate(result, activation);
}

#else  // built without oneDNN

struct OneDnnLinear::Impl {};

OneDnnLinear::OneDnnLinear(const at::Tensor&, const at::Tensor&, at::ScalarType) {
  throw std::logic_error("segkit was built without oneDNN (SEGKIT_WITH_ONEDNN)");
}

OneDnnLinear::~OneDnnLinear() = default;

at::Tensor OneDnnLinear::operator()(const at::Tensor&, Activation) const {
  throw std::logic_error("segkit was built without oneDNN (SEGKIT_WITH_ONEDNN)");
}

#endif

}  // namespace segkit
