#include <torch/cuda.h>
#include <unistd.h>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include "commands.h"
#include "options.h"
#include "segkit/core/errors.h"
#include "segkit/core/pipeline.h"
#include "segkit/core/runtime.h"
#include "segkit/eval/coco_dataset.h"
#include "segkit/infer/instance_predictor.h"
#include "segkit/infer/predictor.h"
#include "segkit/infer/tiled_inference.h"
#include "segkit/io/image.h"
#include "segkit/io/instance_overlay.h"
#include "segkit/io/label_image.h"
#include "segkit/io/npy.h"
#include "segkit/io/overlay.h"
#include "segkit/io/palette.h"
#include "segkit/models/load_model.h"
#include "segkit/ops/resized_argmax.h"

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
  int streams = 0;  // auto
  std::string device = "cpu";
  std::string precision = "fp32";
  std::string output = "out";
  bool save_logits = false;
  bool non_strict = false;
  ImageReading reading;
  std::string upsampling;
  TileOptions tiles;
  std::string palette, class_names;
  double alpha = 0.5;
  bool no_legend = false;
  bool no_overlay = false;
  // Instance models.
  DetectionArgs detection;
  std::string coco_results;
};

// How overlays look: the class colours, their weight, and the legend's class names.
struct OverlayStyle {
  at::Tensor palette;
  double alpha = 0.5;
  std::vector<std::string> legend;  ///< empty: no legend

  // The overlay of rows [row, row + labels rows) of an image (`pixels`: those rows), the
  // legend's rows beside them.
  at::Tensor draw(const at::Tensor& pixels, const at::Tensor& labels, int64_t row, const at::Tensor& panel) const {
    const at::Tensor blended = overlay(pixels, labels, palette, alpha);
    if (!panel.defined()) return blended;
    return at::cat({blended, panel.slice(0, row, row + labels.size(0))}, 1);
  }
  at::Tensor panel(int64_t height) const {
    return legend.empty() ? at::Tensor() : legend_panel(legend, palette, height);
  }
};

void write_outputs(const Image& image, const Prediction& prediction, const std::string& name, const OverlayStyle& style,
                   const PredictArgs& args) {
  const std::string stem = (fs::path(args.output) / name).string();
  write_label_png(prediction.mask, stem + "_mask.png");
  if (!args.no_overlay) {
    write_rgb_png(style.draw(image.pixels, prediction.mask, 0, style.panel(image.height())), stem + "_overlay.png");
  }
  if (args.save_logits) write_npy(prediction.logits, stem + "_logits.npy");
}

// Tiles at the image's own resolution, the image read in bands of rows as the tiles need them
// and the mask and overlay written band by band as the tiles finish, so memory stays bounded by
// a row of tiles (--save-logits: whole, as the logits are).
void predict_tiled(TiledInference& tiler, ImageRows& image, const std::string& name, int64_t num_classes,
                   const OverlayStyle& style, const PredictArgs& args) {
  const std::string stem = (fs::path(args.output) / name).string();
  const at::Tensor panel = args.no_overlay ? at::Tensor() : style.panel(image.height());
  if (args.save_logits) {
    const at::Tensor pixels = image.read(image.height());
    const at::Tensor logits = tiler.logits(pixels);
    const at::Tensor mask = channel_argmax(logits);
    write_label_png(mask, stem + "_mask.png");
    if (!args.no_overlay) write_rgb_png(style.draw(pixels, mask, 0, panel), stem + "_overlay.png");
    write_npy(logits, stem + "_logits.npy");
    return;
  }
  const bool wide = num_classes > 256;  // 16-bit masks, as write_label_png writes them past 255
  StreamingPng mask_png(stem + "_mask.png", image.height(), image.width(), 1, wide ? 16 : 8);
  std::optional<StreamingPng> overlay_png;
  if (!args.no_overlay) {
    overlay_png.emplace(stem + "_overlay.png", image.height(), image.width() + (panel.defined() ? panel.size(1) : 0),
                        3);
  }
  // The overlay blended a few rows at a time: its float intermediates of a whole band of a wide
  // image would outweigh everything else tiling holds.
  constexpr int64_t kOverlayRows = 32;
  int64_t row = 0;
  tiler.masks(image, [&](const at::Tensor& rows, const at::Tensor& pixels) {
    mask_png.write_rows(rows);
    for (int64_t r = 0; overlay_png && r < rows.size(0); r += kOverlayRows) {
      const int64_t n = std::min(kOverlayRows, rows.size(0) - r);
      overlay_png->write_rows(style.draw(pixels.slice(0, r, r + n), rows.slice(0, r, r + n), row + r, panel));
    }
    row += rows.size(0);
  });
  mask_png.finish();
  if (overlay_png) overlay_png->finish();
}

// Legend names: the flag's or the checkpoint's, else "class K" (a legend always names something).
std::vector<std::string> legend_names(const PredictArgs& args, const LoadedModel& loaded, int64_t num_classes) {
  if (args.no_legend) return {};
  std::vector<std::string> names = class_names_for(args.class_names, loaded, num_classes);
  if (names.empty() && num_classes == 21 && !loaded.info) names = dataset_class_names("voc");
  for (int64_t k = static_cast<int64_t>(names.size()); k < num_classes; ++k)
    names.push_back("class " + std::to_string(k));
  return names;
}

// A batch of the input files as the pipeline reads them: the images of files [begin, end) that
// could be read (--skip-bad leaves the others out) and their indices into the files.
struct FileBatch {
  size_t end = 0;             // one past its last file
  std::vector<size_t> index;  // the files read, into files and names
  std::vector<Image> images;

  void read(ImageReader& reader, const std::vector<std::string>& files, size_t begin, size_t stop) {
    end = stop;
    for (size_t i = begin; i < end; ++i) {
      if (auto image = reader.read(files[i])) {
        images.push_back(std::move(*image));
        index.push_back(i);
      }
    }
  }
};

// "class score" for each detection: the class's name where there is one.
std::vector<std::string> captions(const Instances& instances, const std::vector<std::string>& classes) {
  std::vector<std::string> lines;
  for (int64_t d = 0; d < instances.labels.size(0); ++d) {
    const int64_t label = instances.labels[d].item<int64_t>();
    std::ostringstream caption;
    caption << (label < static_cast<int64_t>(classes.size()) ? classes[label] : "class " + std::to_string(label)) << " "
            << std::fixed << std::setprecision(2) << instances.scores[d].item<double>();
    lines.push_back(caption.str());
  }
  return lines;
}

// Instance models: per image an instance map (0 background, k the k-th detection, best first;
// 16-bit past 255 instances) and an overlay with boxes, class names and scores; with
// --coco-results, every detection of every input in one COCO results file.
void run_instance_predict(const PredictArgs& args, const c10::Device& device, const InferenceOptions& inference) {
  if (args.tiles.tile > 0 || args.save_logits || args.resize != "default" || !args.upsampling.empty()) {
    fail(
        "--tile, --save-logits, --resize and --upsampling are for semantic models; an instance model resizes "
        "images itself (--min-size, --max-size)");
  }
  const ZooEntry& entry = model_for(args.model, args.weights, Task::kInstance);
  const auto files = collect_images(args.inputs);
  const auto names = output_names(files);
  LoadOptions load;
  load.num_classes = args.num_classes;
  load.strict = !args.non_strict;
  LoadedModel loaded = load_model(entry.name, args.weights, load);
  if (!loaded.report.empty()) std::cerr << "segkit: --non-strict skipped " << loaded.report.summary() << "\n";
  const int64_t num_classes = loaded.num_classes;
  std::vector<std::string> classes = class_names_for(args.class_names, loaded, num_classes);
  if (classes.empty() && num_classes == 91 && !loaded.info) classes = dataset_class_names("coco");
  InstancePredictor predictor(instance_model(loaded, args.detection), device, inference);

  std::error_code ec;
  fs::create_directories(args.output, ec);
  if (ec || !fs::is_directory(args.output)) fail(args.output, ": cannot create output folder");
  std::vector<CocoObject> results;
  Progress progress(files.size(), "predict");
  ImageReader reader(args.reading);
  int64_t detections = 0;
  // As for semantic models: a batch read ahead on a thread of its own, the network on streams, the
  // instance maps and overlays drawn and written behind it.
  struct Batch : FileBatch {
    std::vector<Instances> found;
  };
  run_batch_pipeline<Batch>(
      files.size(), static_cast<size_t>(args.batch),
      [&](size_t begin, size_t end) {
        Batch batch;
        batch.read(reader, files, begin, end);
        return batch;
      },
      [&](Batch& batch) {
        if (!batch.images.empty()) batch.found = predictor.predict(batch.images);
      },
      [&](Batch& batch) {
        for (size_t k = 0; k < batch.images.size(); ++k) {
          const Instances& instances = batch.found[k];
          const at::Tensor map = instance_map(instances, batch.images[k].height(), batch.images[k].width());
          const std::string stem = (fs::path(args.output) / names[batch.index[k]]).string();
          write_label_png(map, stem + "_instances.png");
          if (!args.no_overlay) {
            write_rgb_png(
                draw_instances(batch.images[k].pixels, map, instances.boxes, captions(instances, classes), args.alpha),
                stem + "_overlay.png");
          }
          if (!args.coco_results.empty()) {
            for (CocoObject& r : instances_to_results(instances, static_cast<int64_t>(batch.index[k]))) {
              results.push_back(r);
            }
          }
          detections += instances.labels.size(0);
        }
        progress.update(batch.end, files[batch.end - 1]);
      },
      args.streams > 0 ? streams_for(args.streams, device) : 1);
  progress.finish();
  reader.finish(files.size());
  if (!args.coco_results.empty()) write_coco_results(results, args.coco_results);
  std::cout << "wrote " << files.size() - reader.skipped() << " instance map(s)"
            << (args.no_overlay ? "" : " and overlay(s)") << " with " << detections << " detection(s) to "
            << args.output << (args.coco_results.empty() ? "" : " and the COCO results to " + args.coco_results)
            << "\n";
}

void run_predict(const PredictArgs& args) {
  configure_runtime(args.threads);
  if (args.batch < 1) fail("--batch must be at least 1, got ", args.batch);
  const c10::Device device = parse_device(args.device);
  const InferenceOptions inference = inference_options(device, args.precision);
  if (!(args.alpha >= 0 && args.alpha <= 1)) fail("--alpha must be between 0 and 1, got ", args.alpha);
  if (args.weights.empty()) fail("give --weights (a checkpoint)");
  if (find_model(resolve_model_name(args.model, args.weights)).task == Task::kInstance) {
    return run_instance_predict(args, device, inference);
  }
  if (args.detection.given() || !args.coco_results.empty()) {
    fail("--score-thresh, --min-size, --max-size and --coco-results are for instance models");
  }
  const ZooEntry& entry = model_for(args.model, args.weights, Task::kSemantic);
  const auto files = collect_images(args.inputs);
  const auto names = output_names(files);

  LoadOptions load;
  load.num_classes = args.num_classes;
  load.strict = !args.non_strict;
  load.unet_upsampling = parse_optional_upsampling(args.upsampling);
  LoadedModel loaded = load_model(entry.name, args.weights, load);
  Preprocess preprocess = loaded.preprocess;
  preprocess.resize = parse_resize(args.resize, loaded.preprocess.resize);
  if (!loaded.report.empty()) std::cerr << "segkit: --non-strict skipped " << loaded.report.summary() << "\n";
  const auto* constraints = input_constraints(*loaded.model);
  const bool tiled = args.tiles.tile > 0 || (constraints && constraints->border() > 0);
  if (tiled && args.resize != "default" && args.resize != "none") {
    fail("--resize cannot be combined with tiles: tiles are taken at the image's own resolution");
  }
  const int64_t num_classes = loaded.num_classes;
  Predictor predictor(take_as<SegmentorImpl>(loaded.model), preprocess, device, inference);
  TiledInference tiler(predictor, args.tiles);
  OverlayStyle style;
  style.palette = palette_for(args.palette, loaded, num_classes);
  style.alpha = args.alpha;
  style.legend = legend_names(args, loaded, num_classes);

  std::error_code ec;
  fs::create_directories(args.output, ec);
  if (ec || !fs::is_directory(args.output)) fail(args.output, ": cannot create output folder");

  Progress progress(files.size(), "predict");
  ImageReader reader(args.reading);
  if (tiled) {
    for (size_t i = 0; i < files.size(); ++i) {
      if (auto image = reader.open_rows(files[i])) {
        reader.attempt(files[i], [&] { predict_tiled(tiler, *image, names[i], num_classes, style, args); });
      }
      progress.update(i + 1, files[i]);
    }
  } else {
    // A batch of files is read and preprocessed ahead on a thread of its own, run through the
    // network on streams of its own, and resized, argmaxed and written behind it in order.
    struct Batch : FileBatch {
      PreparedBatch prepared;
      std::vector<NetworkLogits> logits;
    };
    run_batch_pipeline<Batch>(
        files.size(), static_cast<size_t>(args.batch),
        [&](size_t begin, size_t end) {
          Batch batch;
          batch.read(reader, files, begin, end);
          batch.prepared = predictor.prepare(batch.images);
          return batch;
        },
        [&](Batch& batch) {
          batch.logits = predictor.run(batch.prepared);
          batch.prepared = {};
        },
        [&](Batch& batch) {
          for (size_t k = 0; k < batch.images.size(); ++k) {
            const Prediction prediction = Predictor::finish(batch.logits[k], batch.images[k], args.save_logits);
            write_outputs(batch.images[k], prediction, names[batch.index[k]], style, args);
          }
          progress.update(batch.end, files[batch.end - 1]);
        },
        streams_for(args.streams, device));
  }
  progress.finish();
  reader.finish(files.size());
  std::cout << "wrote " << files.size() - reader.skipped() << " mask(s)" << (args.no_overlay ? "" : " and overlay(s)")
            << " to " << args.output << "\n";
}

}  // namespace

Run add_predict_command(CLI::App& app) {
  auto args = std::make_shared<PredictArgs>();
  CLI::App* cmd = app.add_subcommand("predict", "Segment images with a zoo model and a checkpoint");
  cmd->add_option("inputs", args->inputs, "Image files or folders of images")->required();
  cmd->add_option("-m,--model", args->model,
                  "Model name (see `segkit models`; default: the one a segkit checkpoint records)");
  cmd->add_option("-w,--weights", args->weights, "Checkpoint: torch.save file (.pth/.pt) or .safetensors")->required();
  cmd->add_option("--num-classes", args->num_classes, "Class count (default: read from the checkpoint)");
  cmd->add_option("--resize", args->resize, "Short side in pixels, or \"none\" to keep the size (default: 520)");
  cmd->add_option("--batch", args->batch, "Images per forward pass")->capture_default_str();
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  add_streams_option(*cmd, args->streams);
  cmd->add_option("--device", args->device, "cpu or cuda")->capture_default_str();
  add_precision_option(*cmd, args->precision);
  cmd->add_option("-o,--output", args->output, "Output folder")->capture_default_str();
  cmd->add_flag("--save-logits", args->save_logits, "Also write <stem>_logits.npy (float32, C x H x W)");
  cmd->add_flag("--non-strict", args->non_strict, "Load the checkpoint's matching keys, skip the rest");
  add_image_reading_options(*cmd, args->reading);
  cmd->add_option("--tile", args->tiles.tile,
                  "Overlap-tile inference with tiles of this side, at the image's own resolution (any image size)");
  cmd->add_option("--overlap", args->tiles.overlap, "Overlap of neighbouring tiles, pixels (blended)")
      ->capture_default_str();
  cmd->add_option("--tile-batch", args->tiles.batch, "Tiles per forward pass")->capture_default_str();
  add_upsampling_option(*cmd, args->upsampling);
  cmd->add_option("--palette", args->palette,
                  "Overlay colours: voc, camvid, cityscapes, distinct, or a file of \"R G B\" / \"#RRGGBB\" / \"none\" "
                  "lines (default: the checkpoint's, else voc)");
  cmd->add_option("--alpha", args->alpha, "Weight of the class colours in overlays (0 to 1)")->capture_default_str();
  cmd->add_option("--class-names", args->class_names,
                  "Names for the legend: a file, one per line, or voc, camvid, cityscapes (default: the checkpoint's)");
  cmd->add_flag("--no-legend", args->no_legend, "Overlays without the legend of class names beside them");
  cmd->add_flag("--no-overlay", args->no_overlay,
                "Write the masks (and logits) only, no overlay images: faster on folders of images");
  add_detection_options(*cmd, args->detection);
  cmd->add_option("--coco-results", args->coco_results,
                  "Instance models: also write every detection as a COCO results JSON file (image_id: the input's "
                  "0-based position)");
  return [args] { run_predict(*args); };
}

}  // namespace segkit::cli
