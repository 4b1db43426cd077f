#pragma once

// What segkit's oneDNN layers share (OneDnnConv, QuantizedConv): the CPU engine, activations
// as post-ops, and oneDNN memory held by ATen tensors. Include only where SEGKIT_WITH_ONEDNN.

#include <ATen/ATen.h>

#include <algorithm>
#include <initializer_list>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "segkit/layers/conv_bn.h"

namespace segkit::onednn {

inline dnnl::engine& engine() {
  static dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
  return cpu;
}

/// Appends the oneDNN post-op for an activation; false for those it has no exact match for.
inline bool append_activation(dnnl::post_ops& ops, Activation activation) {
  using A = dnnl::algorithm;
  switch (activation) {
    case Activation::kNone: return true;
    case Activation::kReLU: ops.append_eltwise(1.f, A::eltwise_relu, 0.f, 0.f); return true;
    case Activation::kReLU6: ops.append_eltwise(1.f, A::eltwise_clip, 0.f, 6.f); return true;
    case Activation::kHardswish: ops.append_eltwise(1.f, A::eltwise_hardswish, 0.f, 0.f); return true;
    case Activation::kSiLU: ops.append_eltwise(1.f, A::eltwise_swish, 1.f, 0.f); return true;
    case Activation::kSigmoid: ops.append_eltwise(1.f, A::eltwise_logistic, 0.f, 0.f); return true;
    case Activation::kHardsigmoid: return false;
  }
  return false;
}

/// A buffer for one oneDNN memory of `desc`, owned by an ATen tensor (64-byte aligned).
struct Buffer {
  at::Tensor storage;
  dnnl::memory mem;
  explicit Buffer(const dnnl::memory::desc& desc)
      : storage(at::empty({static_cast<int64_t>(desc.get_size())}, at::TensorOptions().dtype(at::kByte))),
        mem(desc, engine(), storage.data_ptr()) {}
};

/// Attributes for a primitive that several threads may run, at once too: the scratch memory of
/// each run is the caller's (scratchpad_mode::user). oneDNN 2's default keeps it per thread, and
/// a primitive made on one thread may then run on that thread alone.
inline dnnl::primitive_attr shareable_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

/// One run's memory for primitives run one after another, each needing a buffer of its own
/// desc (the scratch of those made with shareable_attr(), or a blocked copy of their data): as
/// many bytes as the largest asks for, seen through each one's desc.
struct Scratch {
  at::Tensor storage;
  explicit Scratch(std::initializer_list<dnnl::memory::desc> descs) : Scratch(std::vector<dnnl::memory::desc>(descs)) {}
  explicit Scratch(const std::vector<dnnl::memory::desc>& descs) {
    size_t bytes = 0;
    for (const auto& desc : descs) bytes = std::max(bytes, desc.get_size());
    storage = at::empty({static_cast<int64_t>(bytes)}, at::TensorOptions().dtype(at::kByte));
  }
  dnnl::memory as(const dnnl::memory::desc& desc) const { return dnnl::memory(desc, engine(), storage.data_ptr()); }
};

/// The output size of `spec` on a height x width input; std::invalid_argument when none.
std::pair<int64_t, int64_t> output_size(const ConvSpec& spec, int64_t height, int64_t width);

}  // namespace segkit::onednn
