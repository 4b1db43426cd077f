#include "segkit/infer/benchmark.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include <malloc.h>
#include <unistd.h>

#include "segkit/core/runtime.h"
#include "segkit/infer/classification_predictor.h"
#include "segkit/infer/flop_count.h"
#include "segkit/infer/predictor.h"
#include "segkit/io/overlay.h"
#include "segkit/io/palette.h"
#include "segkit/models/segmentors/generalized_rcnn.h"

namespace segkit {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// The run's result on the host: its time includes the device's work.
void wait_for(const at::Tensor& result) {
  if (!result.is_cpu()) result.cpu();
}

// Times of named steps, run after run: each step() closes the one begun by the last.
class StageTimer {
 public:
  void start() { times_.clear(), last_ = Clock::now(); }
  void step(const std::string& name) {
    times_.emplace_back(name, ms_since(last_));
    last_ = Clock::now();
  }
  void keep() {
    for (const auto& [name, ms] : times_) {
      if (runs_.find(name) == runs_.end()) order_.push_back(name);
      runs_[name].push_back(ms);
    }
  }
  std::vector<std::pair<std::string, double>> medians() const {
    std::vector<std::pair<std::string, double>> result;
    for (const auto& name : order_) result.emplace_back(name, median(runs_.at(name)));
    return result;
  }

 private:
  Clock::time_point last_;
  std::vector<std::pair<std::string, double>> times_;
  std::vector<std::string> order_;
  std::map<std::string, std::vector<double>> runs_;
};

// `forward` timed options.warmup + options.runs times, with the peak memory of those runs.
template <typename Forward>
void time_runs(BenchmarkResult& result, const BenchmarkOptions& options, Forward forward) {
  // What the plain pass that counted the arithmetic freed goes back to the system, so that the
  // peak is the inference's alone (configure_runtime keeps freed memory in the heap).
  malloc_trim(0);
  result.resident_kib = resident_memory_kib();
  reset_peak_resident_memory();
  for (int i = 0; i < options.warmup + options.runs; ++i) {
    const auto start = Clock::now();
    forward();
    if (i >= options.warmup) result.latency_ms.push_back(ms_since(start));
  }
  result.peak_resident_kib = peak_resident_memory_kib();
  std::sort(result.latency_ms.begin(), result.latency_ms.end());
}

// With options.streams above 1: that many threads at once (at most one per thread:
// inference_streams), each on its share of the threads (thread_share, as run_batch_pipeline
// shares them), each running `forward` options.warmup times and then options.runs timed
// times; the images per second of the timed passes together, from the moment all are warm to
// the last one's end.
template <typename Forward>
void time_streams(BenchmarkResult& result, const BenchmarkOptions& options, Forward forward) {
  if (options.streams <= 1 || !options.device.is_cpu()) return;
  const int threads = threads_here();
  const size_t streams = static_cast<size_t>(inference_streams(options.streams));
  if (streams <= 1) return;
  std::mutex mutex;
  std::condition_variable warm;
  size_t ready = 0;
  Clock::time_point start;
  std::vector<Clock::time_point> ends(streams);
  std::vector<std::exception_ptr> errors(streams);
  malloc_trim(0);
  reset_peak_resident_memory();
  std::vector<std::thread> workers;
  const auto join = [&] {
    for (auto& worker : workers) worker.join();
  };
  for (size_t s = 0; s < streams; ++s) {
    try {
      workers.emplace_back([&, s] {
        try {
          set_threads_here(thread_share(threads, streams, s));
          for (int i = 0; i < options.warmup; ++i) forward();
          {
            std::unique_lock<std::mutex> lock(mutex);
            if (++ready == streams) {
              start = Clock::now();
              warm.notify_all();
            }
            warm.wait(lock, [&] { return ready >= streams; });
          }
          for (int i = 0; i < options.runs; ++i) forward();
        } catch (...) {
          errors[s] = std::current_exception();
          std::lock_guard<std::mutex> lock(mutex);
          if (++ready == streams) start = Clock::now();
          warm.notify_all();
        }
        ends[s] = Clock::now();
      });
    } catch (...) {  // a thread that cannot start: release the others from the barrier first
      {
        std::lock_guard<std::mutex> lock(mutex);
        ready = streams;
        start = Clock::now();
      }
      warm.notify_all();
      join();
      throw;
    }
  }
  join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  const double seconds = std::chrono::duration<double>(*std::max_element(ends.begin(), ends.end()) - start).count();
  result.streams = static_cast<int>(streams);
  result.streams_images_per_second = static_cast<double>(streams) * options.runs * options.batch / seconds;
  result.streams_peak_resident_kib = peak_resident_memory_kib();
}

// options.warmup + options.runs passes of `stages(timer)`, which times its steps on the timer:
// the medians of the timed passes.
template <typename Stages>
std::vector<std::pair<std::string, double>> time_stages(const BenchmarkOptions& options, Stages stages) {
  StageTimer timer;
  for (int i = 0; i < options.warmup + options.runs; ++i) {
    timer.start();
    stages(timer);
    if (i >= options.warmup) timer.keep();
  }
  return timer.medians();
}

// A random batch of the network's input, its arithmetic counted on the model's plain path
// (`plain`, the model in eval mode, without autograd).
at::Tensor counted_input(BenchmarkResult& result, const BenchmarkOptions& options, int64_t channels, int64_t height,
                         int64_t width, const std::function<void(const at::Tensor&)>& plain) {
  const at::Tensor input = at::randn({options.batch, channels, height, width});
  result.input = input.sizes().vec();
  result.flops = count_flops([&] {
    at::NoGradGuard no_grad;
    plain(input);
  });
  return input;
}

// A folder of its own for the stages' output files, removed with it.
struct ScratchFolder {
  ScratchFolder()
      : path((std::filesystem::temp_directory_path() / ("segkit_bench_" + std::to_string(getpid()))).string()) {
    std::filesystem::create_directories(path);
  }
  ~ScratchFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

// A semantic model: the network on a random batch; with an image, each stage of predict.
BenchmarkResult benchmark_semantic(LoadedModel& loaded, const BenchmarkOptions& options) {
  BenchmarkResult result;
  auto model = take_as<SegmentorImpl>(loaded.model);
  const InputConstraints* constraints = input_constraints(*model);
  const auto valid = [&](int64_t side) { return constraints ? constraints->valid_input_size(side) : side; };
  const int64_t h = valid(options.height > 0 ? options.height : 520);
  const int64_t w = valid(options.width > 0 ? options.width : h);
  model->eval();
  const at::Tensor input = counted_input(result, options, loaded.preprocess.channels, h, w,
                                         [&](const at::Tensor& x) { model->forward(x, /*with_aux=*/false); });
  Predictor predictor(std::move(model), loaded.preprocess, options.device, options.inference);
  time_runs(result, options, [&] { wait_for(predictor.forward(input)); });
  time_streams(result, options, [&] { wait_for(predictor.forward(input)); });
  if (options.image.empty()) return result;

  const ScratchFolder out;
  const at::Tensor palette = voc_palette(predictor.model().num_classes());
  result.stages_ms = time_stages(options, [&](StageTimer& timer) {
    const Image image = read_image(options.image);
    timer.step("decode");
    const PreparedBatch prepared = predictor.prepare({image});
    timer.step("preprocess");
    const std::vector<NetworkLogits> logits = predictor.run(prepared);
    timer.step("network");
    const Prediction prediction = Predictor::finish(logits[0], image);
    timer.step("resize_argmax");
    write_label_png(prediction.mask, out.path + "/mask.png");
    timer.step("mask_png");
    const at::Tensor blended = overlay(image.pixels, prediction.mask, palette, 0.5);
    timer.step("overlay_blend");
    write_rgb_png(blended, out.path + "/overlay.png");
    timer.step("overlay_png");
  });
  return result;
}

// A classifier: the network on a random batch; with an image, each stage of classify.
BenchmarkResult benchmark_classifier(LoadedModel& loaded, const BenchmarkOptions& options) {
  BenchmarkResult result;
  auto model = take_as<ClassifierImpl>(loaded.model);
  const int64_t usual = loaded.preprocess.crop > 0 ? loaded.preprocess.crop : 224;
  const int64_t h = options.height > 0 ? options.height : usual, w = options.width > 0 ? options.width : h;
  model->eval();
  const at::Tensor input =
      counted_input(result, options, loaded.preprocess.channels, h, w, [&](const at::Tensor& x) { model->forward(x); });
  ClassificationPredictor predictor(std::move(model), loaded.preprocess, options.device, options.inference);
  time_runs(result, options, [&] { wait_for(predictor.forward(input)); });
  time_streams(result, options, [&] { wait_for(predictor.forward(input)); });
  if (options.image.empty()) return result;

  result.stages_ms = time_stages(options, [&](StageTimer& timer) {
    const Image image = read_image(options.image);
    timer.step("decode");
    const PreparedBatch prepared = predictor.prepare({image});
    timer.step("preprocess");
    const at::Tensor probabilities = predictor.run(prepared);
    timer.step("network");
    top_classes(probabilities, 5);
    timer.step("top_classes");
  });
  return result;
}

// Faster or Mask R-CNN on an image (options.image, else random pixels), step by step as its
// forward() runs them.
BenchmarkResult benchmark_instance(LoadedModel& loaded, const BenchmarkOptions& options) {
  BenchmarkResult result;
  auto model = take_as<GeneralizedRCNNImpl>(loaded.model);
  at::Tensor pixels;
  if (!options.image.empty()) {
    pixels = read_image(options.image).pixels;
  } else {
    const int64_t h = options.height > 0 ? options.height : 480;
    const int64_t w = options.width > 0 ? options.width : (options.height > 0 ? h : 640);
    pixels = at::randint(0, 256, {h, w, 3}, at::kByte);
  }
  const std::vector<at::Tensor> images(static_cast<size_t>(options.batch),
                                       pixels.permute({2, 0, 1}).to(at::kFloat).div_(255.0));
  const std::vector<std::pair<int64_t, int64_t>> sizes(images.size(), {pixels.size(0), pixels.size(1)});
  result.input = {options.batch, 3, pixels.size(0), pixels.size(1)};
  model->eval();
  result.flops = count_flops([&] {
    at::NoGradGuard no_grad;
    model->forward(images);
  });
  adopt_for_inference(*model, model.use_count(), options.device, options.inference);
  std::vector<at::Tensor> inputs;
  for (const at::Tensor& image : images) inputs.push_back(image.to(options.device));
  StageTimer timer;
  int run = 0;
  time_runs(result, options, [&] {
    c10::InferenceMode guard;
    timer.start();
    const ImageBatch batch = model->transform(inputs);
    timer.step("transform");
    const std::vector<at::Tensor> pyramid = model->features(batch);
    timer.step("backbone");
    const std::vector<Proposals> proposals = model->propose(pyramid, batch);
    timer.step("rpn");
    const std::vector<Detections> detected = model->detect(pyramid, proposals, batch);
    timer.step("roi_heads");
    const std::vector<Instances> instances = model->postprocess(detected, batch, sizes);
    wait_for(instances[0].labels);
    timer.step("paste");
    if (run++ >= options.warmup) timer.keep();
    result.detections = instances[0].labels.size(0);
  });
  result.stages_ms = timer.medians();
  return result;
}

}  // namespace

BenchmarkResult benchmark_model(LoadedModel& loaded, const BenchmarkOptions& options) {
  if (options.batch < 1 || options.runs < 1 || options.warmup < 0 || options.height < 0 || options.width < 0) {
    fail("benchmark: batch and runs must be at least 1, warm-up runs and sizes not negative");
  }
  switch (loaded.entry->task) {
    case Task::kSemantic: return benchmark_semantic(loaded, options);
    case Task::kClassification: return benchmark_classifier(loaded, options);
    case Task::kInstance: return benchmark_instance(loaded, options);
  }
  fail("benchmark: unknown task");
}

double matmul_flops_per_second(at::ScalarType dtype, c10::Device device, int64_t n, int repeats) {
  c10::InferenceMode guard;
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  const at::Tensor a = at::randn({n, n}, options), b = at::randn({n, n}, options);
  at::Tensor c = at::mm(a, b);  // warm-up: the library's first call sets up its kernels
  wait_for(c);
  double best = 0;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    at::mm_out(c, a, b);
    wait_for(c);
    best = std::max(best, 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) /
                              (ms_since(start) / 1000));
  }
  return best;
}

}  // namespace segkit
