#pragma once

// Where a model's inference time goes: latency and throughput of the network, its arithmetic
// against what this machine's matrix units deliver, peak memory, and the time of each stage
// of `segkit predict` (or `classify`) on an image. What `segkit bench` prints.

#include <c10/core/Device.h>

#include <string>
#include <utility>
#include <vector>

#include "segkit/infer/inference.h"
#include "segkit/models/load_model.h"

namespace segkit {

struct BenchmarkOptions {
  int64_t batch = 1;
  /// The network's input (instance models: the image's) size; 0: the task's usual one
  /// (semantic 520, classification the preset's crop, instance 480 x 640), grown to a size the
  /// model takes (unpadded U-Nets).
  int64_t height = 0, width = 0;
  int runs = 7, warmup = 2;
  /// Semantic and classification models: also time each stage of predict (classify) on this
  /// image. Instance models: run on it instead of a synthetic image.
  std::string image;
  c10::Device device{"cpu"};
  /// Above 1 (CPU, semantic and classification models): also the throughput of this many
  /// networks (at most one per thread) running at once on the same input, each on its share of
  /// the threads and each timed over warmup + runs passes, as predict and classify run a folder
  /// (--streams).
  int streams = 1;
  InferenceOptions inference = default_inference_options(c10::Device("cpu"));
};

struct BenchmarkResult {
  std::vector<int64_t> input;      ///< N x C x H x W the network ran on (instance models: the image)
  std::vector<double> latency_ms;  ///< one per run, fastest first
  /// Floating-point operations of one run (count_flops on the model's plain float32 path).
  double flops = 0;
  /// Median milliseconds of each stage, in the order they run; empty without an image
  /// (semantic and classification models).
  std::vector<std::pair<std::string, double>> stages_ms;
  int64_t detections = -1;  ///< instance models: found in the last run
  /// Resident memory before the first run and at its peak during the runs (KiB).
  long resident_kib = -1, peak_resident_kib = -1;
  /// With options.streams above 1: the streams timed (1 where they do not apply), images per
  /// second of all of them together, and the peak resident memory while they ran (KiB).
  int streams = 1;
  double streams_images_per_second = 0;
  long streams_peak_resident_kib = -1;

  double median_ms() const { return latency_ms.empty() ? 0 : latency_ms[latency_ms.size() / 2]; }
};

/// Counts the model's arithmetic on its plain path, rewrites it for inference as
/// options.inference says (the model is taken over), then times options.warmup + options.runs
/// passes on a random input (and the stages on options.image).
BenchmarkResult benchmark_model(LoadedModel& loaded, const BenchmarkOptions& options);

/// The rate of an n x n matrix product in `dtype` on `device` with LibTorch's current threads,
/// in floating-point operations per second (the best of `repeats`): the practical peak of the
/// machine's multiply-add units that the model's convolutions are held to.
double matmul_flops_per_second(at::ScalarType dtype, c10::Device device, int64_t n = 2048, int repeats = 5);

}  // namespace segkit
