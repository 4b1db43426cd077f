#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "options.h"
#include "segkit/core/errors.h"
#include "segkit/core/pipeline.h"
#include "segkit/core/runtime.h"
#include "segkit/data/imagenet_classes.h"
#include "segkit/infer/classification_predictor.h"
#include "segkit/models/load_model.h"

namespace segkit::cli {
namespace {

struct ClassifyArgs {
  std::vector<std::string> inputs;
  std::string model, weights, labels;
  std::optional<int64_t> num_classes;
  std::string resize = "default";
  int64_t crop = -1;
  int64_t top = 5;
  int64_t batch = 8;
  bool json = false;
  bool non_strict = false;
  ImageReading reading;
  int threads = 0;
  int streams = 0;  // auto
  std::string device = "cpu";
  std::string precision = "fp32";
};

// Names for the model's classes: --labels, else the checkpoint's, else ImageNet's for 1000
// classes, else the indices.
std::vector<std::string> class_names(const ClassifyArgs& args, const LoadedModel& loaded) {
  const int64_t num_classes = loaded.num_classes;
  std::vector<std::string> names = class_names_for(args.labels, loaded, num_classes);
  if (!names.empty()) return names;
  if (num_classes == static_cast<int64_t>(imagenet_classes().size())) return imagenet_classes();
  for (int64_t k = 0; k < num_classes; ++k) names.push_back(std::to_string(k));
  return names;
}

void print_table(const std::string& path, const TopClasses& top, const std::vector<std::string>& names) {
  std::cout << path << "\n";
  for (size_t r = 0; r < top.classes.size(); ++r) {
    const int64_t c = top.classes[r];
    std::cout << "  " << std::right << std::setw(2) << r + 1 << "  " << std::left << std::setw(32)
              << names[static_cast<size_t>(c)] + " (" + std::to_string(c) + ")" << std::right << std::fixed
              << std::setprecision(4) << top.probabilities[r] << "\n";
  }
}

void print_json(const std::string& path, const TopClasses& top, const std::vector<std::string>& names) {
  nlohmann::json line;
  line["image"] = path;
  line["top"] = nlohmann::json::array();
  for (size_t r = 0; r < top.classes.size(); ++r) {
    const int64_t c = top.classes[r];
    line["top"].push_back({{"class", c}, {"label", names[static_cast<size_t>(c)]}, {"prob", top.probabilities[r]}});
  }
  std::cout << line.dump() << "\n";
}

void run_classify(const ClassifyArgs& args) {
  configure_runtime(args.threads);
  const c10::Device device = parse_device(args.device);
  const InferenceOptions inference = inference_options(device, args.precision);
  if (args.batch < 1) fail("--batch must be at least 1, got ", args.batch);
  if (args.top < 1) fail("--top must be at least 1, got ", args.top);
  const ZooEntry& entry = model_for(args.model, args.weights, Task::kClassification);
  const auto files = collect_images(args.inputs);
  LoadOptions load;
  load.num_classes = args.num_classes;
  load.strict = !args.non_strict;
  LoadedModel loaded = load_model(entry.name, args.weights, load);
  if (!loaded.report.empty()) std::cerr << "segkit: --non-strict skipped " << loaded.report.summary() << "\n";
  Preprocess preprocess = loaded.preprocess;
  preprocess.resize = parse_resize(args.resize, loaded.preprocess.resize);
  if (args.crop >= 0) preprocess.crop = args.crop;
  const auto names = class_names(args, loaded);
  ClassificationPredictor predictor(take_as<ClassifierImpl>(loaded.model), preprocess, device, inference);

  Progress progress(files.size(), "classify");
  ImageReader reader(args.reading);
  // A batch of files is decoded and preprocessed ahead on a thread of its own, classified on
  // streams of the network, printed behind in order.
  struct Batch {
    size_t end = 0;                  // one past its last file
    std::vector<std::string> paths;  // of the images read
    PreparedBatch prepared;
    at::Tensor probabilities;
  };
  run_batch_pipeline<Batch>(
      files.size(), static_cast<size_t>(args.batch),
      [&](size_t begin, size_t end) {
        Batch batch;
        batch.end = end;
        std::vector<Image> images;
        for (size_t i = begin; i < end; ++i) {
          if (auto image = reader.read(files[i])) images.push_back(std::move(*image));
        }
        for (const Image& image : images) batch.paths.push_back(image.path);
        batch.prepared = predictor.prepare(images);
        return batch;
      },
      [&](Batch& batch) {
        if (!batch.paths.empty()) batch.probabilities = predictor.run(batch.prepared);
        batch.prepared = {};
      },
      [&](Batch& batch) {
        progress.update(batch.end, files[batch.end - 1]);
        if (batch.paths.empty()) return;
        const auto tops = top_classes(batch.probabilities, args.top);
        for (size_t k = 0; k < batch.paths.size(); ++k) {
          if (args.json)
            print_json(batch.paths[k], tops[k], names);
          else
            print_table(batch.paths[k], tops[k], names);
        }
        std::cout << std::flush;
      },
      streams_for(args.streams, device));
  progress.finish();
  reader.finish(files.size());
}

}  // namespace

Run add_classify_command(CLI::App& app) {
  auto args = std::make_shared<ClassifyArgs>();
  CLI::App* cmd = app.add_subcommand("classify", "Classify images with a zoo classifier and a checkpoint");
  cmd->add_option("inputs", args->inputs, "Image files or folders of images")->required();
  cmd->add_option("-m,--model", args->model,
                  "Model name (see `segkit models`; default: the one a segkit checkpoint records)");
  cmd->add_option("-w,--weights", args->weights, "Checkpoint: torch.save file (.pth/.pt) or .safetensors")->required();
  cmd->add_option("--labels", args->labels,
                  "Class names, one per line (default: the checkpoint's, else ImageNet's for 1000 classes)");
  cmd->add_option("--num-classes", args->num_classes, "Class count (default: read from the checkpoint)");
  cmd->add_option("--top", args->top, "Classes shown per image")->capture_default_str();
  cmd->add_flag("--json", args->json,
                "One JSON object per image: {\"image\": PATH, \"top\": [{\"class\", \"label\", \"prob\"}, ...]}");
  cmd->add_option("--resize", args->resize,
                  "Short side in pixels, or \"none\" to feed the image as it is (default: the model's, 256)");
  cmd->add_option("--crop", args->crop, "Center crop side, 0 for none (default: the model's, 224)");
  cmd->add_option("--batch", args->batch, "Images per forward pass")->capture_default_str();
  cmd->add_flag("--non-strict", args->non_strict, "Load the checkpoint's matching keys, skip the rest");
  add_image_reading_options(*cmd, args->reading);
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  add_streams_option(*cmd, args->streams);
  cmd->add_option("--device", args->device, "cpu or cuda")->capture_default_str();
  add_precision_option(*cmd, args->precision);
  return [args] { run_classify(*args); };
}

}  // namespace segkit::cli
