// segkit bench: where a model's inference time goes on this machine.

#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "commands.h"
#include "options.h"
#include "segkit/core/errors.h"
#include "segkit/core/runtime.h"
#include "segkit/infer/benchmark.h"

namespace segkit::cli {
namespace {

struct BenchArgs {
  std::string model, weights, image;
  int64_t size = 0, height = 0, width = 0, batch = 1;
  int runs = 7, warmup = 2, threads = 0, streams = 1;
  bool json = false;
  std::string device = "cpu";
  std::string precision = "fp32";
};

// The model to time: the checkpoint's (random weights where none is given, at the published
// class count).
LoadedModel load_for_bench(const BenchArgs& args) {
  if (!args.weights.empty()) return load_model(args.model, args.weights);
  if (args.model.empty()) fail("name a model (see `segkit models`) or give --weights");
  const ZooEntry& entry = find_model(args.model);
  LoadedModel loaded;
  loaded.entry = &entry;
  loaded.num_classes = entry.num_classes;
  loaded.preprocess = entry.preprocess;
  loaded.model = build_model(entry);
  return loaded;
}

std::string fixed(double value, int digits) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(digits) << value;
  return text.str();
}

std::string shape(const std::vector<int64_t>& sizes) {
  std::string text;
  for (int64_t s : sizes) text += (text.empty() ? "" : "x") + std::to_string(s);
  return text;
}

void run_bench(const BenchArgs& args) {
  configure_runtime(args.threads);
  const c10::Device device = parse_device(args.device);
  BenchmarkOptions options;
  options.device = device;
  options.inference = inference_options(device, args.precision);
  options.batch = args.batch;
  options.height = args.height > 0 ? args.height : args.size;
  options.width = args.width > 0 ? args.width : args.size;
  options.runs = args.runs;
  options.warmup = args.warmup;
  options.image = args.image;
  options.streams = args.streams;
  if (!args.image.empty()) read_image(args.image);  // a bad file stops here, before the model is built
  LoadedModel loaded = load_for_bench(args);
  const std::string name = loaded.entry->name;
  const BenchmarkResult result = benchmark_model(loaded, options);
  const double peak = matmul_flops_per_second(options.inference.dtype, device);

  const double seconds = result.median_ms() / 1000;
  const double images_per_second = static_cast<double>(args.batch) / seconds;
  const double achieved = result.flops / seconds;
  const double inference_mib = static_cast<double>(result.peak_resident_kib - result.resident_kib) / 1024;
  const std::string precision = precision_name(options.inference);
  const std::string peak_precision = precision_name(options.inference.dtype);  // int8: its float layers'

  if (args.json) {
    nlohmann::json line = {{"impl", "segkit"},
                           {"model", name},
                           {"weights", args.weights.empty() ? "random" : args.weights},
                           {"precision", precision},
                           {"device", device.str()},
                           {"threads", at::get_num_threads()},
                           {"input", result.input},
                           {"batch", args.batch},
                           {"runs", args.runs},
                           {"median_ms", result.median_ms()},
                           {"min_ms", result.latency_ms.front()},
                           {"max_ms", result.latency_ms.back()},
                           {"images_per_s", images_per_second},
                           {"gflop", result.flops / 1e9},
                           {"gflops", achieved / 1e9},
                           {"matmul_gflops", peak / 1e9},
                           {"share_of_matmul", achieved / peak},
                           {"peak_rss_mib", static_cast<double>(result.peak_resident_kib) / 1024},
                           {"inference_peak_mib", inference_mib}};
    if (result.detections >= 0) line["detections"] = result.detections;
    if (result.streams > 1) {
      line["streams"] = result.streams;
      line["streams_images_per_s"] = result.streams_images_per_second;
      line["streams_peak_rss_mib"] = static_cast<double>(result.streams_peak_resident_kib) / 1024;
    }
    line["stages_ms"] = nlohmann::json::object();
    for (const auto& [stage, ms] : result.stages_ms) line["stages_ms"][stage] = ms;
    std::cout << line.dump() << std::endl;
    return;
  }
  std::cout << name << " (" << (args.weights.empty() ? "random weights" : args.weights) << "), input "
            << shape(result.input) << ", " << precision << " on " << device.str() << ", " << at::get_num_threads()
            << " thread" << (at::get_num_threads() == 1 ? "" : "s") << "\n"
            << "  latency     " << fixed(result.median_ms(), 1) << " ms median of " << args.runs << " runs (min "
            << fixed(result.latency_ms.front(), 1) << ", max " << fixed(result.latency_ms.back(), 1) << ") after "
            << args.warmup << " warm-up\n"
            << "  throughput  " << fixed(images_per_second, 2) << " images/s\n";
  if (result.streams > 1) {
    std::cout << "              " << fixed(result.streams_images_per_second, 2) << " images/s with " << result.streams
              << " streams at once (as predict runs a folder), "
              << fixed(static_cast<double>(result.streams_peak_resident_kib) / 1024, 0)
              << " MiB resident at the peak\n";
  }
  std::cout << "  work        " << fixed(result.flops / 1e9, 2)
            << " GFLOP a run (convolutions and matrix products, 2 per multiply-add)\n"
            << "  speed       " << fixed(achieved / 1e9, 1) << " GFLOP/s, " << fixed(100 * achieved / peak, 0)
            << "% of this machine's " << peak_precision << " matrix product now (" << fixed(peak / 1e9, 1)
            << " GFLOP/s at 2048x2048)\n"
            << "  memory      " << fixed(static_cast<double>(result.peak_resident_kib) / 1024, 0)
            << " MiB resident at the peak, " << fixed(inference_mib, 0) << " MiB of it for inference\n";
  if (result.detections >= 0) std::cout << "  detections  " << result.detections << "\n";
  if (result.stages_ms.empty()) {
    std::cout << "  (--image FILE adds the time of each stage of " << task_name(loaded.entry->task)
              << " prediction on a real image)\n";
    return;
  }
  double total = 0;
  for (const auto& [stage, ms] : result.stages_ms) total += ms;
  std::cout << "  stages      median ms, share of " << fixed(total, 1) << " ms"
            << (args.image.empty() ? " (random pixels)" : " (" + args.image + ")") << "\n";
  for (const auto& [stage, ms] : result.stages_ms) {
    std::cout << "    " << std::left << std::setw(14) << stage << std::right << std::setw(9) << fixed(ms, 1)
              << std::setw(6) << fixed(100 * ms / total, 0) << "%\n";
  }
}

}  // namespace

Run add_bench_command(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time a model's inference: latency, throughput, GFLOP/s against the machine's, memory, stages");
  cmd->add_option("model", args->model, "Model name (see `segkit models`; default: the one --weights records)");
  cmd->add_option("-m,--model", args->model, "The same, as a flag");
  cmd->add_option("-w,--weights", args->weights, "Checkpoint (default: random weights, for timing only)");
  cmd->add_option("--size", args->size,
                  "Input side (default: 520 semantic, the preset's crop for classifiers, 480x640 instance)")
      ->check(positive_integer());
  cmd->add_option("--height", args->height, "Input height (default: --size)")->check(positive_integer());
  cmd->add_option("--width", args->width, "Input width (default: --size, else the height)")->check(positive_integer());
  cmd->add_option("--batch", args->batch, "Images per forward pass")->capture_default_str()->check(positive_integer());
  cmd->add_option("--runs", args->runs, "Timed runs")->capture_default_str()->check(positive_integer());
  cmd->add_option("--warmup", args->warmup, "Untimed runs first")->capture_default_str()->check(non_negative_integer());
  cmd->add_option("--image", args->image,
                  "Also time each stage of prediction on this image (instance models: run on it)");
  cmd->add_flag("--json", args->json, "One JSON object instead of the table");
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("--streams", args->streams,
                  "Also time this many networks at once (at most one per thread), each on its share of the threads, "
                  "as predict and classify run a folder (CPU; not instance models): their images per second together")
      ->capture_default_str()
      ->check(positive_integer());
  cmd->add_option("--device", args->device, "cpu or cuda")->capture_default_str();
  add_precision_option(*cmd, args->precision);
  return [args] { run_bench(*args); };
}

}  // namespace segkit::cli
