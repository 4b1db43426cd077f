// Latency and peak memory of one zoo model's inference (semantic or classification),
// for bench/run_zoo_bench.py, which runs torchvision on the same checkpoint in the same way
// (bench/peer_torchvision.py). Prints one JSON line.

#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>

#include "memory.h"
#include "segkit/core/runtime.h"
#include "segkit/infer/classification_predictor.h"
#include "segkit/infer/inference.h"
#include "segkit/infer/predictor.h"
#include "segkit/models/load_model.h"

int main(int argc, char** argv) {
  std::string model, weights, device = "cpu";
  int runs = 7, warmup = 2, threads = 2, size = 520, batch = 1;
  CLI::App app{"segkit inference benchmark"};
  app.add_option("--model", model)->required();
  app.add_option("--weights", weights)->required();
  app.add_option("--runs", runs);
  app.add_option("--warmup", warmup);
  app.add_option("--threads", threads);
  app.add_option("--size", size);
  app.add_option("--batch", batch);
  app.add_option("--device", device);
  bool no_onednn = false;
  app.add_flag("--no-onednn", no_onednn, "LibTorch's convolutions instead of segkit's oneDNN ones");
  CLI11_PARSE(app, argc, argv);

  segkit::configure_runtime(threads);
  auto loaded = segkit::load_model(model, weights);
  segkit::InferenceOptions options = segkit::default_inference_options(c10::Device(device));
  options.onednn = options.onednn && !no_onednn;
  std::function<at::Tensor(const at::Tensor&)> forward;
  if (loaded.entry->task == segkit::Task::kClassification) {
    auto predictor = std::make_shared<segkit::ClassificationPredictor>(
        segkit::take_as<segkit::ClassifierImpl>(loaded.model), loaded.entry->preprocess, c10::Device(device), options);
    forward = [predictor](const at::Tensor& x) { return predictor->forward(x); };
  } else {
    auto predictor = std::make_shared<segkit::Predictor>(segkit::take_as<segkit::SegmentorImpl>(loaded.model),
                                                         loaded.entry->preprocess, c10::Device(device), options);
    forward = [predictor](const at::Tensor& x) { return predictor->forward(x); };
  }
  const at::Tensor input = at::randn({batch, 3, size, size}, at::TensorOptions().dtype(at::kFloat));

  const long base_kib = segkit::bench::status_kib("VmRSS");
  segkit::bench::reset_peak();
  for (int i = 0; i < warmup; ++i) forward(input);
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const at::Tensor out = forward(input);
    if (out.is_cuda()) out.cpu();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  const long peak_kib = segkit::bench::status_kib("VmHWM");
  std::cout << "{\"impl\": \"segkit\", \"model\": \"" << model << "\", \"batch\": " << batch
            << ", \"median_ms\": " << ms[ms.size() / 2] << ", \"min_ms\": " << ms.front()
            << ", \"peak_rss_mib\": " << peak_kib / 1024.0
            << ", \"inference_peak_mib\": " << (peak_kib - base_kib) / 1024.0 << "}" << std::endl;
  return 0;
}
