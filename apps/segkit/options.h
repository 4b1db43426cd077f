#pragma once

// Command-line pieces shared by the subcommands.

#include <c10/core/Device.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "segkit/data/dataset.h"
#include "segkit/infer/inference.h"
#include "segkit/io/image.h"
#include "segkit/models/load_model.h"
#include "segkit/models/segmentors/instance_segmentor.h"
#include "segkit/models/segmentors/unet.h"
#include "segkit/models/zoo.h"

namespace segkit::cli {

/// Where labelled images come from: two folders paired by name, or a list file.
struct DataArgs {
  std::string images, masks, list;
  bool given() const { return !images.empty() || !masks.empty() || !list.empty(); }
};

/// Adds --{prefix}images, --{prefix}masks and --{prefix}list.
void add_data_options(CLI::App& cmd, DataArgs& args, const std::string& prefix);
std::vector<SamplePaths> collect_samples(const DataArgs& args, const std::string& flags);

/// Instance models: what predict and eval let one choose (torchvision's box_score_thresh,
/// box_detections_per_img, min_size, max_size).
struct DetectionArgs {
  std::optional<double> score_thresh, min_size, max_size;
  int64_t max_detections = 100;
  bool given() const { return score_thresh || min_size || max_size; }
};

/// Adds --score-thresh, --max-detections, --min-size and --max-size.
void add_detection_options(CLI::App& cmd, DetectionArgs& args);

/// An instance model of a loaded checkpoint, with the detection flags applied.
InstanceSegmentor instance_model(LoadedModel& loaded, const DetectionArgs& args);

/// Image files named on the command line, folders expanded (sorted); a missing path or an
/// empty folder is an error.
std::vector<std::string> collect_images(const std::vector<std::string>& inputs);

/// The name each input's outputs start with: its stem, or, where two inputs share a stem
/// (x.png and x.jpg), its file name; the same file name twice is an error.
std::vector<std::string> output_names(const std::vector<std::string>& files);

/// "default" (the model's), "none" (0) or a positive pixel count.
int64_t parse_resize(const std::string& text, int64_t model_default);

c10::Device parse_device(const std::string& text);

/// Adds --precision (fp32, bf16, fp16, int8, auto).
void add_precision_option(CLI::App& cmd, std::string& value);
/// How a predictor rewrites its model on `device` for --precision `precision`.
InferenceOptions inference_options(c10::Device device, const std::string& precision);
/// Adds --streams (0: auto).
void add_streams_option(CLI::App& cmd, int& value);
/// The streams on `device`: inference_streams on the CPU; on CUDA, where the streams would share
/// one GPU queue, 1 unless asked for.
int streams_for(int requested, c10::Device device);
/// --mask-encoding: auto, index or binary.
MaskEncoding parse_mask_encoding(const std::string& text);
Upsampling parse_upsampling(const std::string& text);

/// The zoo entry `name`, which must be a model of `task`; the error says which command serves it.
const ZooEntry& find_model_for(const std::string& name, Task task);

/// The zoo entry for --model and --weights: the model the checkpoint records or the flag
/// (which must agree), of `task`.
const ZooEntry& model_for(const std::string& flag, const std::string& weights, Task task);

/// Adds --upsampling (a U-Net's resize upsampling, where the checkpoint does not record it).
void add_upsampling_option(CLI::App& cmd, std::string& value);
/// --upsampling: empty keeps what the checkpoint records (else bilinear).
std::optional<Upsampling> parse_optional_upsampling(const std::string& text);

/// Class names, one per line (blank lines and trailing spaces dropped).
std::vector<std::string> read_class_names(const std::string& path);

/// Class names from a flag (a file, or a dataset: voc, camvid, cityscapes), else those the
/// checkpoint records, else none; a count other than `num_classes` is an error.
std::vector<std::string> class_names_for(const std::string& flag, const LoadedModel& loaded, int64_t num_classes);

/// Class colours (classes x 4 RGBA): --palette, else the checkpoint's, else VOC's (class 0,
/// background, left bare: torchvision's published segmentation weights are VOC's classes).
at::Tensor palette_for(const std::string& flag, const LoadedModel& loaded, int64_t num_classes);

/// "eval [3/10] 2.5/s ETA 0m03s path" on standard error: redrawn in place on a terminal,
/// a line per tenth of the way in a log; silent for one item.
class Progress {
 public:
  Progress(size_t total, std::string what);
  void update(size_t done, const std::string& item);
  void finish();

 private:
  size_t total_;
  std::string what_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  size_t printed_tenth_ = 0;
};

/// A flag's check: a positive whole number (CLI11's own range check prints a 300-digit bound).
const CLI::Validator& positive_integer();
/// The same for a whole number of 0 or more.
const CLI::Validator& non_negative_integer();

/// How a command reads its input images: --max-pixels and --skip-bad.
struct ImageReading {
  int64_t max_pixels = kDefaultMaxPixels;
  bool skip_bad = false;
};
void add_image_reading_options(CLI::App& cmd, ImageReading& reading);

/// Reads a command's images one by one. Under --skip-bad an image that cannot be read is named
/// on stderr ("segkit: skipped FILE: why") and left out; without it, its error stops the run.
class ImageReader {
 public:
  explicit ImageReader(const ImageReading& reading) : reading_(reading) {}
  std::optional<Image> read(const std::string& path);
  /// The same for an image read in bands of rows as it is used (ImageRows).
  std::unique_ptr<ImageRows> open_rows(const std::string& path);
  /// Runs `work` on the file `path`: under --skip-bad, an InputError it throws (a file found
  /// corrupt midway), or with `any_error` any error, skips the file instead. Whether it ran through.
  bool attempt(const std::string& path, const std::function<void()>& work, bool any_error = false);
  /// After the last of `total` images: one line counting the skipped ones; an error if none was read.
  void finish(size_t total) const;
  size_t skipped() const { return skipped_; }

 private:
  ImageReading reading_;
  size_t skipped_ = 0;
};

/// "1h02m03s", "2m05s".
std::string format_duration(double seconds);

}  // namespace segkit::cli
