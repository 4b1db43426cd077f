#include "run_report.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <iomanip>
#include <map>
#include <sstream>

#include "options.h"
#include "segkit/core/errors.h"
#include "segkit/data/classification_dataset.h"
#include "segkit/data/dataset.h"
#include "segkit/infer/classification_predictor.h"
#include "segkit/infer/predictor.h"
#include "segkit/infer/tiled_inference.h"
#include "segkit/io/image.h"
#include "segkit/io/overlay.h"
#include "segkit/models/load_model.h"
#include "segkit/ops/resized_argmax.h"
#include "segkit/report/run_report.h"
#include "usage.h"

namespace segkit::cli {
namespace {

namespace fs = std::filesystem;
using Config = std::map<std::string, std::string>;

// The run's config.toml as key -> value; empty if there is none.
Config read_run_config(const fs::path& dir) {
  Config config;
  if (!fs::exists(dir / "config.toml")) return config;
  for (const ConfigLine& line : read_config_file((dir / "config.toml").string())) {
    if (!line.key.empty()) config[line.key] = line.value;
  }
  return config;
}

std::string get(const Config& config, const std::string& key) {
  auto it = config.find(key);
  return it == config.end() ? "" : it->second;
}

// Evenly spread picks of `count` among `size` items.
std::vector<size_t> spread(size_t size, int count) {
  std::vector<size_t> picks;
  const size_t n = std::min(size, static_cast<size_t>(std::max(0, count)));
  for (size_t k = 0; k < n; ++k) picks.push_back(k * size / n);
  return picks;
}

at::Tensor shrink_to_height(const at::Tensor& pixels, int64_t height) {
  if (pixels.size(0) <= height) return pixels;
  const int64_t width = std::max<int64_t>(1, pixels.size(1) * height / pixels.size(0));
  return resize_image(pixels, height, width);
}

// Semantic: image | truth | prediction, the ignored pixels of the truth left bare.
std::vector<ReportSample> semantic_samples(LoadedModel& loaded, const Config& config, int count) {
  const std::string list = get(config, "val-list").empty() ? get(config, "list") : get(config, "val-list");
  std::vector<SamplePaths> paths;
  if (!list.empty()) {
    paths = read_list_file(list);
  } else if (!get(config, "val-images").empty()) {
    paths = pair_folders(get(config, "val-images"), get(config, "val-masks"));
  } else if (!get(config, "images").empty()) {
    paths = pair_folders(get(config, "images"), get(config, "masks"));
  }
  if (paths.empty()) return {};
  std::vector<SamplePaths> picked;
  for (size_t i : spread(paths.size(), count)) picked.push_back(paths[i]);
  DatasetOptions options;
  options.num_classes = loaded.num_classes;
  options.ignore_index = loaded.info && loaded.info->ignore_index ? *loaded.info->ignore_index : -1;
  if (!get(config, "mask-encoding").empty()) options.encoding = parse_mask_encoding(get(config, "mask-encoding"));
  const SegmentationDataset data(picked, options);
  at::Tensor palette = loaded.info && loaded.info->palette.defined() ? loaded.info->palette
                                                                     : named_palette("distinct", loaded.num_classes);
  palette = at::cat({palette, at::zeros({1, 4}, at::kByte)});  // the ignored pixels: bare
  // As validation runs: whole images at their own scale, mirrored as the model needs (U-Net's border).
  Predictor predictor(take_as<SegmentorImpl>(loaded.model), loaded.preprocess);
  TiledInference tiler(predictor, TileOptions{});
  std::vector<ReportSample> samples;
  for (size_t i = 0; i < data.size(); ++i) {
    const LabeledImage& item = data[i];
    const at::Tensor mask = channel_argmax(tiler.logits(item.image));
    const at::Tensor truth = item.mask.masked_fill(item.mask.ge(loaded.num_classes), loaded.num_classes);
    const at::Tensor gap = at::full({item.image.size(0), 6, 3}, 255, at::kByte);
    at::Tensor panels = at::cat(
        {item.image, gap, overlay(item.image, truth, palette, 0.6), gap, overlay(item.image, mask, palette, 0.6)}, 1);
    samples.push_back({fs::path(item.paths.image).filename().string(), shrink_to_height(panels, 240),
                       "the image, its truth, the prediction"});
  }
  return samples;
}

// Classification: each image with its true and predicted class.
std::vector<ReportSample> classification_samples(LoadedModel& loaded, const Config& config, int count) {
  ClassSamples all;
  if (!get(config, "val-folder").empty()) {
    all = scan_image_folder(get(config, "val-folder"));
  } else if (!get(config, "folder").empty()) {
    all = scan_image_folder(get(config, "folder"));
  } else {
    return {};
  }
  const std::vector<std::string>& names =
      loaded.info && !loaded.info->class_names.empty() ? loaded.info->class_names : all.classes;
  ClassificationPredictor predictor(take_as<ClassifierImpl>(loaded.model), loaded.preprocess);
  std::vector<ReportSample> samples;
  for (size_t i : spread(all.samples.size(), count)) {
    const ClassSample& sample = all.samples[i];
    Image image;
    try {
      image = read_image(sample.path);
    } catch (const InputError&) {
      continue;  // a file training skipped
    }
    const TopClasses top = top_classes(predictor.probabilities({image}), 1)[0];
    std::ostringstream caption;
    caption << "truth " << names.at(static_cast<size_t>(sample.label)) << ", predicted "
            << names.at(static_cast<size_t>(top.classes[0])) << " (" << std::fixed << std::setprecision(2)
            << top.probabilities[0] << ")";
    samples.push_back({fs::path(sample.path).filename().string(), shrink_to_height(image.pixels, 160), caption.str()});
  }
  return samples;
}

}  // namespace

std::string report_run(const std::string& run_dir, int samples) {
  const fs::path dir(run_dir);
  if (!fs::is_directory(dir)) fail(run_dir, ": no such run folder");
  const Config config = read_run_config(dir);
  RunReportOptions options;
  options.title = "segkit run " + dir.string();
  const fs::path weights = fs::exists(dir / "best.pth") ? dir / "best.pth" : dir / "last.pth";
  if (fs::exists(weights)) {
    if (const auto info = read_checkpoint_info(weights.string())) {
      options.title = "segkit run " + dir.string() + ": " + info->model;
      options.class_names = info->class_names;
    }
  }
  if (fs::exists(weights) && samples > 0) {
    LoadedModel loaded = load_model(get(config, "model"), weights.string());
    options.samples = loaded.entry->task == Task::kClassification ? classification_samples(loaded, config, samples)
                                                                  : semantic_samples(loaded, config, samples);
  }
  return write_run_report(run_dir, options).html;
}

}  // namespace segkit::cli
