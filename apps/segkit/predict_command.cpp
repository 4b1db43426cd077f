#include <torch/cuda.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <optional>

#include "commands.h"
#include "options.h"
#include "segkit/core/errors.h"
#include "segkit/core/runtime.h"
#include "segkit/infer/predictor.h"
#include "segkit/infer/tiled_inference.h"
#include "segkit/io/image.h"
#include "segkit/io/label_image.h"
#include "segkit/io/npy.h"
#include "segkit/io/overlay.h"
#include "segkit/models/load_model.h"

namespace segkit::cli {
namespace {

namespace fs = std::filesystem;

struct PredictArgs {
  std::vector<std::string> inputs;
  std::string model;
  std::string weights;
  std::optional<int64_t> num_classes;
  std::string resize = "default";
  int batch = 1;
  int threads = 0;
  std::string device = "cpu";
  std::string output = "out";
  bool save_logits = false;
  bool non_strict = false;
  int64_t max_pixels = 100'000'000;
  std::string upsampling = "bilinear";
  TileOptions tiles;
};

std::vector<std::string> collect_images(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> found;
      for (const auto& item : fs::directory_iterator(input, ec)) {
        if (item.is_regular_file() && is_image_file(item.path().string())) found.push_back(item.path().string());
      }
      if (ec) fail(input, ": cannot list folder (", ec.message(), ")");
      if (found.empty()) fail(input, ": folder holds no PNG, JPEG, BMP or TIFF images");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(input, ec)) {
      files.push_back(input);
    } else {
      fail(input, ": no such file or folder");
    }
  }
  return files;
}

// The name each input's outputs start with: its stem, or, where two inputs share a
// stem (x.png and x.jpg), its file name; the same file name twice is an error.
std::vector<std::string> output_names(const std::vector<std::string>& files) {
  std::map<std::string, int> stems;
  for (const auto& file : files) ++stems[fs::path(file).stem().string()];
  std::map<std::string, std::string> taken;
  std::vector<std::string> names;
  for (const auto& file : files) {
    const fs::path path(file);
    std::string name = stems[path.stem().string()] > 1 ? path.filename().string() : path.stem().string();
    auto [it, fresh] = taken.emplace(name, file);
    if (!fresh) fail(file, ": would overwrite the outputs of ", it->second, " (same file name)");
    names.push_back(std::move(name));
  }
  return names;
}

int64_t parse_resize(const std::string& text, int64_t model_default) {
  if (text == "default") return model_default;
  if (text == "none") return 0;
  try {
    size_t used = 0;
    const int64_t v = std::stoll(text, &used);
    if (used == text.size() && v > 0) return v;
  } catch (const std::exception&) {
  }
  fail("--resize must be a positive pixel count or \"none\", got \"", text, "\"");
}

void write_outputs(const Image& image, const Prediction& prediction, const std::string& name, const at::Tensor& palette,
                   const PredictArgs& args) {
  const std::string stem = (fs::path(args.output) / name).string();
  write_label_png(prediction.mask, stem + "_mask.png");
  write_rgb_png(overlay(image.pixels, prediction.mask, palette), stem + "_overlay.png");
  if (args.save_logits) write_npy(prediction.logits, stem + "_logits.npy");
}

// Tiles at the image's own resolution; mask and overlay are written band by band as the
// tiles finish, so memory stays bounded by a row of tiles (plus the decoded image).
void predict_tiled(TiledInference& tiler, const Image& image, const std::string& name, const at::Tensor& palette,
                   const PredictArgs& args) {
  const std::string stem = (fs::path(args.output) / name).string();
  if (args.save_logits) {
    const at::Tensor logits = tiler.logits(image.pixels);
    const at::Tensor mask = logits.argmax(0);
    write_label_png(mask, stem + "_mask.png");
    write_rgb_png(overlay(image.pixels, mask, palette), stem + "_overlay.png");
    write_npy(logits, stem + "_logits.npy");
    return;
  }
  StreamingPng mask_png(stem + "_mask.png", image.height(), image.width());
  StreamingPng overlay_png(stem + "_overlay.png", image.height(), image.width(), 3);
  int64_t row = 0;
  tiler.masks(image.pixels, [&](const at::Tensor& rows) {
    mask_png.write_rows(rows);
    overlay_png.write_rows(overlay(image.pixels.slice(0, row, row + rows.size(0)), rows, palette));
    row += rows.size(0);
  });
  mask_png.finish();
  overlay_png.finish();
}

void run_predict(const PredictArgs& args) {
  configure_runtime(args.threads);
  if (args.batch < 1) fail("--batch must be at least 1, got ", args.batch);
  const c10::Device device = parse_device(args.device);
  const ZooEntry& entry = find_model(args.model);
  Preprocess preprocess = entry.preprocess;
  preprocess.resize = parse_resize(args.resize, entry.preprocess.resize);
  const auto files = collect_images(args.inputs);
  const auto names = output_names(files);

  LoadedModel loaded = load_model(args.model, args.weights, args.num_classes, !args.non_strict,
                                  UNetOptions().upsampling(parse_upsampling(args.upsampling)));
  if (!loaded.report.empty()) std::cerr << "segkit: --non-strict skipped " << loaded.report.summary() << "\n";
  const bool tiled = args.tiles.tile > 0 || loaded.model->border() > 0;
  if (tiled && args.resize != "default" && args.resize != "none") {
    fail("--resize cannot be combined with tiles: tiles are taken at the image's own resolution");
  }
  Predictor predictor(loaded.model, preprocess, device);
  TiledInference tiler(predictor, args.tiles);
  const at::Tensor palette = voc_palette(std::max<int64_t>(loaded.num_classes, 256));

  std::error_code ec;
  fs::create_directories(args.output, ec);
  if (ec || !fs::is_directory(args.output)) fail(args.output, ": cannot create output folder");

  const bool show_progress = files.size() > 1;
  const bool tty = ::isatty(STDERR_FILENO);
  for (size_t start = 0; start < files.size(); start += tiled ? 1 : args.batch) {
    std::vector<Image> images;
    for (size_t i = start; i < std::min(files.size(), start + (tiled ? 1 : args.batch)); ++i) {
      images.push_back(read_image(files[i], args.max_pixels));
    }
    if (tiled) {
      predict_tiled(tiler, images[0], names[start], palette, args);
    } else {
      const auto predictions = predictor.predict(images);
      for (size_t k = 0; k < images.size(); ++k) {
        write_outputs(images[k], predictions[k], names[start + k], palette, args);
      }
    }
    const size_t done = start + images.size();
    if (show_progress) {
      std::cerr << (tty ? "\r" : "") << "[" << done << "/" << files.size() << "] " << images.back().path
                << (tty ? "\033[K" : "\n") << std::flush;
    }
  }
  if (show_progress && tty) std::cerr << "\n";
  std::cout << "wrote " << files.size() << " mask(s) and overlay(s) to " << args.output << "\n";
}

}  // namespace

Run add_predict_command(CLI::App& app) {
  auto args = std::make_shared<PredictArgs>();
  CLI::App* cmd = app.add_subcommand("predict", "Segment images with a zoo model and a checkpoint");
  cmd->add_option("inputs", args->inputs, "Image files or folders of images")->required();
  cmd->add_option("-m,--model", args->model, "Model name (see `segkit models`)")->required();
  cmd->add_option("-w,--weights", args->weights, "Checkpoint: torch.save file (.pth/.pt) or .safetensors")->required();
  cmd->add_option("--num-classes", args->num_classes, "Class count (default: read from the checkpoint)");
  cmd->add_option("--resize", args->resize, "Short side in pixels, or \"none\" to keep the size (default: 520)");
  cmd->add_option("--batch", args->batch, "Images per forward pass")->capture_default_str();
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("--device", args->device, "cpu or cuda")->capture_default_str();
  cmd->add_option("-o,--output", args->output, "Output folder")->capture_default_str();
  cmd->add_flag("--save-logits", args->save_logits, "Also write <stem>_logits.npy (float32, C x H x W)");
  cmd->add_flag("--non-strict", args->non_strict, "Load the checkpoint's matching keys, skip the rest");
  cmd->add_option("--max-pixels", args->max_pixels, "Refuse larger images (memory cap)")->capture_default_str();
  cmd->add_option("--tile", args->tiles.tile,
                  "Overlap-tile inference with tiles of this side, at the image's own resolution (any image size)");
  cmd->add_option("--overlap", args->tiles.overlap, "Overlap of neighbouring tiles, pixels (blended)")
      ->capture_default_str();
  cmd->add_option("--tile-batch", args->tiles.batch, "Tiles per forward pass")->capture_default_str();
  cmd->add_option("--upsampling", args->upsampling, "U-Net with resize upsampling: nearest or bilinear")
      ->capture_default_str();
  return [args] { run_predict(*args); };
}

}  // namespace segkit::cli
