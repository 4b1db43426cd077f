// int8 against bf16, layer by layer: every convolution of a zoo model that `--precision int8`
// may quantize, at the input size the model gives it, timed alone on oneDNN in both precisions
// (OneDnnConv in bf16, QuantizedConv in int8) with the same weights. The layers and their inputs
// are taken from one pass of the plain model (aten::conv2d calls). Prints one JSON line per
// layer: its shape, multiply-adds, both median times and whether `--precision int8` takes it
// (QuantizedConv::pays): what that rule was chosen from.
//
// Usage: bench_int8_layers MODEL [--size 520] [--runs 15] [--threads 2]

#include <ATen/ATen.h>
#include <ATen/record_function.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "median_ms.h"
#include "segkit/core/runtime.h"
#include "segkit/layers/onednn_conv.h"
#include "segkit/layers/quantized_conv.h"
#include "segkit/models/classifiers/classifier.h"
#include "segkit/models/segmentors/segmentor.h"
#include "segkit/models/zoo.h"

namespace {

using segkit::bench::median_ms;

using segkit::ConvSpec;

struct Layer {
  ConvSpec spec;
  std::vector<int64_t> input;
  bool nonnegative;  // its input: uint8 in int8 when true
};

thread_local std::vector<Layer>* seen = nullptr;

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  if (!seen || std::strcmp(fn.name(), "aten::conv2d") != 0) return nullptr;
  const auto in = fn.inputs();  // input, weight, bias, stride, padding, dilation, groups
  const at::Tensor& x = in[0].toTensor();
  const at::Tensor& w = in[1].toTensor();
  if (x.dim() != 4 || w.size(2) != w.size(3)) return nullptr;
  const int64_t groups = in[6].toInt();
  ConvSpec spec = ConvSpec(w.size(1) * groups, w.size(0), w.size(2))
                      .stride(in[3].toIntVector()[0])
                      .padding(in[4].toIntVector()[0])
                      .dilation(in[5].toIntVector()[0])
                      .groups(groups)
                      .bias(in[2].isTensor());
  if (!segkit::QuantizedConv::eligible(spec)) return nullptr;
  at::RecordFunctionGuard off(false);
  seen->push_back({spec, x.sizes().vec(), x.min().item<float>() >= 0});
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name;
  int64_t size = 0;
  int runs = 15, threads = 2;
  CLI::App app{"segkit int8 against bf16, layer by layer"};
  app.add_option("model", name)->required();
  app.add_option("--size", size, "input side (default: 520, classifiers 224)");
  app.add_option("--runs", runs);
  app.add_option("--threads", threads);
  CLI11_PARSE(app, argc, argv);
  segkit::configure_runtime(threads);
  if (!segkit::QuantizedConv::available() || !segkit::OneDnnConv::available()) {
    std::cerr << "bench_int8_layers: needs oneDNN and a CPU with int8 dot products\n";
    return 1;
  }

  const segkit::ZooEntry& entry = segkit::find_model(name);
  segkit::Model model = segkit::build_model(entry);
  model->eval();
  const bool classifier = entry.task == segkit::Task::kClassification;
  if (size == 0) size = classifier ? 224 : 520;
  std::vector<Layer> layers;
  {
    at::NoGradGuard no_grad;
    at::manual_seed(0);
    const segkit::InputConstraints* constraints = classifier ? nullptr : segkit::input_constraints(*model);
    const int64_t side = constraints ? constraints->valid_input_size(size) : size;
    const at::Tensor x = at::randn({1, entry.preprocess.channels, side, side});
    seen = &layers;
    const at::CallbackHandle handle = at::addThreadLocalCallback(
        at::RecordFunctionCallback(on_start).needsInputs(true).scopes({at::RecordScope::FUNCTION}));
    if (classifier) {
      std::dynamic_pointer_cast<segkit::ClassifierImpl>(model)->forward(x);
    } else {
      std::dynamic_pointer_cast<segkit::SegmentorImpl>(model)->forward(x, /*with_aux=*/false);
    }
    at::removeCallback(handle);
    seen = nullptr;
  }

  c10::InferenceMode guard;
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& layer = layers[i];
    const ConvSpec& s = layer.spec;
    const at::Tensor weight = at::randn({s.out_channels(), s.in_channels(), s.kernel_size(), s.kernel_size()}) /
                              std::sqrt(static_cast<double>(s.in_channels() * s.kernel_size() * s.kernel_size()));
    const at::Tensor bias = at::randn({s.out_channels()});
    at::Tensor x = at::randn(layer.input);
    if (layer.nonnegative) x.relu_();
    x = x.to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
    const segkit::OneDnnConv bf16(weight.clone(), bias, s, at::kBFloat16);
    const segkit::QuantizedConv int8(weight, bias, s, at::kBFloat16);
    const double bf16_ms = median_ms(
        runs, [&] { bf16(x, segkit::Activation::kReLU); }, 2);
    const double int8_ms = median_ms(
        runs, [&] { int8(x, segkit::Activation::kReLU); }, 2);
    const auto output_side = [&](int64_t side) {
      return (side + 2 * s.padding() - s.dilation() * (s.kernel_size() - 1) - 1) / s.stride() + 1;
    };
    const int64_t out_h = output_side(layer.input[2]), out_w = output_side(layer.input[3]);
    const double macs = static_cast<double>(layer.input[0] * out_h * out_w * s.out_channels() * s.in_channels() *
                                            s.kernel_size() * s.kernel_size());
    std::cout << nlohmann::json{{"layer", i},
                                {"in", s.in_channels()},
                                {"out", s.out_channels()},
                                {"kernel", s.kernel_size()},
                                {"stride", s.stride()},
                                {"dilation", s.dilation()},
                                {"input", layer.input},
                                {"nonnegative", layer.nonnegative},
                                {"mmacs", macs / 1e6},
                                {"bf16_ms", bf16_ms},
                                {"int8_ms", int8_ms},
                                {"takes_int8", segkit::QuantizedConv::pays(s, layer.input[0] * out_h * out_w)}}
                     .dump()
              << std::endl;
  }
  return 0;
}
