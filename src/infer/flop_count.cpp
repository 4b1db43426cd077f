#include "segkit/infer/flop_count.h"

#include <ATen/record_function.h>

#include <cstring>
#include <vector>

namespace segkit {
namespace {

// RecordFunction takes plain function pointers: the count of the thread being observed.
thread_local double flops = 0;
thread_local int depth = 0;  // counted operations open on this thread

enum class Kind { kNone, kConvolution, kTransposedConvolution, kMatmul };

Kind kind_of(const at::RecordFunction& fn) {
  const char* name = fn.name();
  if (std::strncmp(name, "aten::", 6) != 0) return Kind::kNone;
  name += 6;
  for (const char* conv : {"conv1d", "conv2d", "conv3d"}) {
    if (std::strcmp(name, conv) == 0) return Kind::kConvolution;
  }
  for (const char* conv : {"conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}) {
    if (std::strcmp(name, conv) == 0) return Kind::kTransposedConvolution;
  }
  if (std::strcmp(name, "convolution") == 0 || std::strcmp(name, "_convolution") == 0) {
    const auto inputs = fn.inputs();  // (input, weight, bias, stride, padding, dilation, transposed, ...)
    return inputs.size() > 6 && inputs[6].isBool() && inputs[6].toBool() ? Kind::kTransposedConvolution
                                                                         : Kind::kConvolution;
  }
  for (const char* product : {"linear", "matmul", "mm", "addmm", "bmm", "baddbmm"}) {
    if (std::strcmp(name, product) == 0) return Kind::kMatmul;
  }
  return Kind::kNone;
}

// The operation's tensor arguments, in order.
template <typename Values>
std::vector<at::Tensor> tensors(const Values& values) {
  std::vector<at::Tensor> result;
  for (const auto& value : values) {
    if (value.isTensor()) result.push_back(value.toTensor());
  }
  return result;
}

double flops_of(Kind kind, const at::RecordFunction& fn) {
  const std::vector<at::Tensor> in = tensors(fn.inputs()), out = tensors(fn.outputs());
  if (out.empty()) return 0;
  const double out_elements = static_cast<double>(out[0].numel());
  switch (kind) {
    case Kind::kConvolution: {  // weight: out x in/groups x kernel...
      const at::Tensor& weight = in.at(1);
      return 2 * out_elements * static_cast<double>(weight.numel() / weight.size(0));
    }
    case Kind::kTransposedConvolution: {  // weight: in x out/groups x kernel...: each input element spreads over it
      const at::Tensor& weight = in.at(1);
      return 2 * static_cast<double>(in.at(0).numel()) * static_cast<double>(weight.numel() / weight.size(0));
    }
    case Kind::kMatmul: {
      // addmm and baddbmm take the added term first; linear's weight is out x in. The
      // reduction is the first factor's last dimension in every case.
      const std::string name = fn.name();
      const at::Tensor& first = in.at(name == "aten::addmm" || name == "aten::baddbmm" ? 1 : 0);
      return 2 * out_elements * static_cast<double>(first.size(-1));
    }
    case Kind::kNone: break;
  }
  return 0;
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  if (kind_of(fn) != Kind::kNone) ++depth;
  return nullptr;
}

void on_end(const at::RecordFunction& fn, at::ObserverContext* /*context*/) {
  const Kind kind = kind_of(fn);
  if (kind == Kind::kNone) return;
  if (--depth == 0) flops += flops_of(kind, fn);
}

}  // namespace

double count_flops(const std::function<void()>& run) {
  const double before = flops;
  const int outer_depth = depth;
  depth = 0;
  const at::CallbackHandle handle = at::addThreadLocalCallback(at::RecordFunctionCallback(on_start, on_end)
                                                                   .needsInputs(true)
                                                                   .needsOutputs(true)
                                                                   .scopes({at::RecordScope::FUNCTION}));
  try {
    run();
  } catch (...) {
    at::removeCallback(handle);
    depth = outer_depth;
    throw;
  }
  at::removeCallback(handle);
  depth = outer_depth;
  const double counted = flops - before;
  flops = before;
  return counted;
}

}  // namespace segkit
