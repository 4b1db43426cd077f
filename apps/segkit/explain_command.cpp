#include <filesystem>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "options.h"
#include "segkit/core/errors.h"
#include "segkit/core/runtime.h"
#include "segkit/explain/grad_cam.h"
#include "segkit/io/npy.h"
#include "segkit/io/overlay.h"
#include "segkit/models/load_model.h"

namespace segkit::cli {
namespace {

namespace fs = std::filesystem;

struct ExplainArgs {
  std::vector<std::string> inputs;
  std::string model, weights;
  std::string method = "gradcam";
  std::string layer;
  std::optional<int64_t> target_class;
  std::string region;
  std::string resize = "default";
  int64_t crop = -1;
  std::string output = "out";
  bool save_map = false;
  ImageReading reading;
  int threads = 0;
};

std::array<int64_t, 4> parse_region(const std::string& text) {
  std::array<int64_t, 4> box{};
  std::stringstream in(text);
  std::string item;
  size_t n = 0;
  try {
    while (std::getline(in, item, ',')) {
      if (n == 4) throw std::invalid_argument("too many");
      box[n++] = std::stoll(item);
    }
  } catch (const std::exception&) {
    n = 0;
  }
  if (n != 4 || box[0] >= box[2] || box[1] >= box[3]) {
    fail("--region must be x0,y0,x1,y1 with x0 < x1 and y0 < y1, got \"", text, "\"");
  }
  return box;
}

void run_explain(const ExplainArgs& args) {
  configure_runtime(args.threads);
  const ZooEntry& entry = find_model(resolve_model_name(args.model, args.weights));
  if (entry.task == Task::kInstance) fail(entry.name, ": explain serves classifiers and semantic models");
  if (args.method != "gradcam" && args.method != "cam")
    fail("--method must be gradcam or cam, got \"", args.method, "\"");
  if (!args.region.empty() && entry.task != Task::kSemantic) fail("--region explains semantic models' masks");
  const auto files = collect_images(args.inputs);
  const auto names = output_names(files);
  LoadedModel loaded = load_model(entry.name, args.weights, {});
  Preprocess preprocess = loaded.preprocess;
  preprocess.resize = parse_resize(args.resize, loaded.preprocess.resize);
  if (args.crop >= 0) preprocess.crop = args.crop;
  ModelImpl& model = *loaded.model;
  model.eval();
  CamOptions options;
  options.layer = args.layer;
  if (options.layer.empty()) {
    const auto layers = model.layer_names();
    options.layer = layers.back();  // the last layer: the deepest features, as Grad-CAM's authors use
  }
  options.target_class = args.target_class;
  if (!args.region.empty()) options.region = parse_region(args.region);

  std::error_code ec;
  fs::create_directories(args.output, ec);
  if (ec || !fs::is_directory(args.output)) fail(args.output, ": cannot create output folder");
  Progress progress(files.size(), "explain");
  ImageReader reader(args.reading);
  for (size_t i = 0; i < files.size(); ++i) {
    const std::optional<Image> read = reader.read(files[i]);
    if (!read) continue;
    const Image& image = *read;
    const auto [h, w] = preprocess.resized_size(image.height(), image.width());
    at::Tensor shown = resize_image(image.pixels, h, w, preprocess.interpolation);
    if (preprocess.crop > 0) shown = center_crop(shown, preprocess.crop);
    const at::Tensor input = preprocess.normalize(shown).unsqueeze(0);
    const CamResult cam = args.method == "cam" ? class_activation_map(model, input, options.target_class)
                                               : grad_cam(model, input, options);
    const std::string stem = (fs::path(args.output) / names[i]).string();
    // The heat map over what the network saw (resized and cropped as its input).
    write_rgb_png(heat_overlay(shown, cam.heat), stem + "_" + args.method + ".png");
    if (args.save_map) write_npy(cam.map.to(at::kFloat).contiguous(), stem + "_" + args.method + ".npy");
    std::cout << files[i] << ": class " << cam.target_class << ", layer "
              << (args.method == "cam" ? "(the classifier's input)" : options.layer) << " -> " << stem << "_"
              << args.method << ".png\n";
    progress.update(i + 1, files[i]);
  }
  progress.finish();
  reader.finish(files.size());
}

}  // namespace

Run add_explain_command(CLI::App& app) {
  auto args = std::make_shared<ExplainArgs>();
  CLI::App* cmd = app.add_subcommand("explain", "Heat maps of where a model looks: Grad-CAM or CAM, written as PNG");
  cmd->add_option("inputs", args->inputs, "Image files or folders of images")->required();
  cmd->add_option("-m,--model", args->model,
                  "Model name (see `segkit models`; default: the one a segkit checkpoint records)");
  cmd->add_option("-w,--weights", args->weights, "Checkpoint")->required();
  cmd->add_option("--method", args->method, "gradcam (any layer, any classifier or semantic model) or cam")
      ->capture_default_str();
  cmd->add_option("--layer", args->layer, "Layer to explain (default: the last; `segkit models NAME` lists them)");
  cmd->add_option("--class", args->target_class,
                  "Class to explain (default: the top class; semantic: the class predicted on most of the region)");
  cmd->add_option("--region", args->region, "Semantic: x0,y0,x1,y1 in input pixels: explain that part of the mask");
  cmd->add_option("--resize", args->resize, "Short side in pixels, or \"none\" (default: the model's)");
  cmd->add_option("--crop", args->crop, "Center crop side, 0 for none (default: the model's)");
  cmd->add_option("-o,--output", args->output, "Output folder")->capture_default_str();
  cmd->add_flag("--save-map", args->save_map, "Also write the raw map at the layer's resolution as .npy");
  add_image_reading_options(*cmd, args->reading);
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  return [args] { run_explain(*args); };
}

}  // namespace segkit::cli
