// Latency and peak memory of one zoo model's inference (semantic or classification),
// for bench/run_zoo_bench.py, which runs torchvision on the same checkpoint in the same way
// (bench/peer_torchvision.py). Instance models (Faster and Mask R-CNN) run on an image file
// (--image), with the time of each step (transform, backbone, RPN, RoI heads, paste), for
// bench/run_instance_bench.py. Prints one JSON line.

#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <vector>

#include "memory.h"
#include "segkit/core/runtime.h"
#include "segkit/infer/classification_predictor.h"
#include "segkit/infer/inference.h"
#include "segkit/infer/predictor.h"
#include "segkit/io/image.h"
#include "segkit/io/overlay.h"
#include "segkit/io/palette.h"
#include "segkit/models/load_model.h"
#include "segkit/models/segmentors/generalized_rcnn.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Faster or Mask R-CNN on one image, step by step as its forward() runs them.
int bench_instance(segkit::LoadedModel& loaded, const std::string& image_path, int runs, int warmup,
                   const segkit::InferenceOptions& options) {
  auto model = segkit::take_as<segkit::GeneralizedRCNNImpl>(loaded.model);
  segkit::adopt_for_inference(*model, model.use_count(), c10::Device("cpu"), options);
  const segkit::Image image = segkit::read_image(image_path);
  const std::vector<at::Tensor> images = {image.pixels.permute({2, 0, 1}).to(at::kFloat).div_(255.0)};
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{image.height(), image.width()}};
  const long base_kib = segkit::bench::status_kib("VmRSS");
  segkit::bench::reset_peak();
  std::map<std::string, std::vector<double>> steps;
  std::vector<double> total;
  int64_t detections = 0;
  for (int i = 0; i < warmup + runs; ++i) {
    c10::InferenceMode guard;
    const auto start = Clock::now();
    auto t = Clock::now();
    const segkit::ImageBatch batch = model->transform(images);
    const double transform_ms = ms_since(t);
    t = Clock::now();
    const auto pyramid = model->features(batch);
    const double backbone_ms = ms_since(t);
    t = Clock::now();
    const auto proposals = model->propose(pyramid, batch);
    const double rpn_ms = ms_since(t);
    t = Clock::now();
    const auto detected = model->detect(pyramid, proposals, batch);
    const double heads_ms = ms_since(t);
    t = Clock::now();
    const auto instances = model->postprocess(detected, batch, sizes);
    const double paste_ms = ms_since(t);
    if (i < warmup) continue;
    total.push_back(ms_since(start));
    steps["transform"].push_back(transform_ms);
    steps["backbone"].push_back(backbone_ms);
    steps["rpn"].push_back(rpn_ms);
    steps["roi_heads"].push_back(heads_ms);
    steps["paste"].push_back(paste_ms);
    detections = instances[0].labels.size(0);
  }
  const long peak_kib = segkit::bench::status_kib("VmHWM");
  std::cout << "{\"impl\": \"segkit\", \"median_ms\": " << median(total) << ", \"detections\": " << detections;
  for (const auto& [name, values] : steps) std::cout << ", \"" << name << "_ms\": " << median(values);
  std::cout << ", \"peak_rss_mib\": " << peak_kib / 1024.0
            << ", \"inference_peak_mib\": " << (peak_kib - base_kib) / 1024.0 << "}" << std::endl;
  return 0;
}

// A semantic model on one image, stage by stage as `segkit predict` runs them: decoding,
// preprocessing, the network, resizing the logits and their argmax, the mask's PNG, the
// overlay's blend and its PNG (written to a temporary folder).
int bench_semantic_stages(segkit::LoadedModel& loaded, const std::string& image_path, int runs, int warmup,
                          const segkit::InferenceOptions& options) {
  segkit::Predictor predictor(segkit::take_as<segkit::SegmentorImpl>(loaded.model), loaded.preprocess,
                              c10::Device("cpu"), options);
  const std::string out = std::filesystem::temp_directory_path() / "segkit_bench_stages";
  std::filesystem::create_directories(out);
  const at::Tensor palette = segkit::voc_palette(predictor.model().num_classes());
  std::map<std::string, std::vector<double>> steps;
  for (int i = 0; i < warmup + runs; ++i) {
    std::vector<std::pair<std::string, double>> times;
    auto t = Clock::now();
    const auto step = [&](const char* name) {
      times.emplace_back(name, ms_since(t));
      t = Clock::now();
    };
    const segkit::Image image = segkit::read_image(image_path);
    step("decode");
    const auto prepared = predictor.prepare({image});
    step("preprocess");
    const auto logits = predictor.run(prepared);
    step("network");
    const segkit::Prediction prediction = segkit::Predictor::finish(logits[0], image);
    step("resize_argmax");
    segkit::write_label_png(prediction.mask, out + "/mask.png");
    step("mask_png");
    const at::Tensor blended = segkit::overlay(image.pixels, prediction.mask, palette, 0.5);
    step("overlay_blend");
    segkit::write_rgb_png(blended, out + "/overlay.png");
    step("overlay_png");
    if (i < warmup) continue;
    for (const auto& [name, ms] : times) steps[name].push_back(ms);
  }
  std::filesystem::remove_all(out);
  std::cout << "{\"impl\": \"segkit\", \"image\": \"" << image_path << "\"";
  for (const auto& [name, values] : steps) std::cout << ", \"" << name << "_ms\": " << median(values);
  std::cout << "}" << std::endl;
  return 0;
}

}  // namespace

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
  int64_t height = 0, width = 0;
  app.add_option("--height", height, "Input height (default: --size)");
  app.add_option("--width", width, "Input width (default: --size)");
  app.add_option("--batch", batch);
  app.add_option("--device", device);
  std::string image;
  app.add_option("--image", image, "Instance and semantic models: the image to run on, step by step");
  bool no_onednn = false;
  app.add_flag("--no-onednn", no_onednn, "LibTorch's convolutions instead of segkit's oneDNN ones");
  std::string precision = "fp32";
  app.add_option("--precision", precision, "fp32, bf16, fp16 or auto");
  CLI11_PARSE(app, argc, argv);

  segkit::configure_runtime(threads);
  auto loaded = segkit::load_model(model, weights);
  segkit::InferenceOptions options =
      segkit::default_inference_options(c10::Device(device), segkit::inference_dtype(precision, c10::Device(device)));
  options.onednn = options.onednn && !no_onednn;
  if (loaded.entry->task == segkit::Task::kInstance) return bench_instance(loaded, image, runs, warmup, options);
  if (!image.empty()) return bench_semantic_stages(loaded, image, runs, warmup, options);
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
  const at::Tensor input =
      at::randn({batch, loaded.entry->preprocess.channels, height > 0 ? height : size, width > 0 ? width : size},
                at::TensorOptions().dtype(at::kFloat));

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
  std::cout << "{\"impl\": \"segkit\", \"model\": \"" << model << "\", \"precision\": \""
            << segkit::precision_name(options.dtype) << "\", \"batch\": " << batch
            << ", \"median_ms\": " << ms[ms.size() / 2] << ", \"min_ms\": " << ms.front()
            << ", \"peak_rss_mib\": " << peak_kib / 1024.0
            << ", \"inference_peak_mib\": " << (peak_kib - base_kib) / 1024.0 << "}" << std::endl;
  return 0;
}
