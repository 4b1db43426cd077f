#include "options.h"

#include "segkit/models/segmentors/generalized_rcnn.h"

#include <torch/cuda.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "segkit/core/errors.h"
#include "segkit/core/runtime.h"
#include "segkit/io/image.h"
#include "segkit/io/palette.h"

namespace segkit::cli {

namespace fs = std::filesystem;

void add_data_options(CLI::App& cmd, DataArgs& args, const std::string& prefix) {
  const std::string what = prefix.empty() ? "labelled" : "validation";
  cmd.add_option("--" + prefix + "images", args.images, "Folder of " + what + " images");
  cmd.add_option("--" + prefix + "masks", args.masks, "Folder of " + what + " masks, named as the images");
  cmd.add_option("--" + prefix + "list", args.list, "List file of \"image mask\" lines (" + what + ")");
}

void add_detection_options(CLI::App& cmd, DetectionArgs& args) {
  cmd.add_option("--score-thresh", args.score_thresh,
                 "Instance models: keep detections scoring at least this (default: 0.05, torchvision's)");
  cmd.add_option("--max-detections", args.max_detections, "Instance models: detections kept per image")
      ->capture_default_str();
  cmd.add_option("--min-size", args.min_size,
                 "Instance models: resize images so the shorter side has this many pixels (default: 800)");
  cmd.add_option("--max-size", args.max_size,
                 "Instance models: ... unless the longer side would pass this (default: 1333)");
}

InstanceSegmentor instance_model(LoadedModel& loaded, const DetectionArgs& args) {
  InstanceSegmentor model = take_as<InstanceSegmentorImpl>(loaded.model);
  if (!model) fail(loaded.entry->name, " is not an instance model");
  model->set_detection_limits(args.score_thresh.value_or(0.05), args.max_detections);
  if (args.min_size || args.max_size) {
    auto* rcnn = dynamic_cast<GeneralizedRCNNImpl*>(model.get());
    if (rcnn == nullptr) fail(loaded.entry->name, " has no image size to choose");
    const double min_size = args.min_size.value_or(800);
    rcnn->set_image_size(min_size, args.max_size.value_or(std::max(1333.0, min_size)));
  }
  return model;
}

std::vector<SamplePaths> collect_samples(const DataArgs& args, const std::string& flags) {
  if (!args.list.empty()) {
    if (!args.images.empty() || !args.masks.empty()) fail("give ", flags, ", not both");
    return read_list_file(args.list);
  }
  if (args.images.empty() || args.masks.empty()) fail("give ", flags);
  return pair_folders(args.images, args.masks);
}

std::vector<std::string> collect_images(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> skipped;
      const auto found = list_image_files(input, skipped);
      report_skipped_files(input, skipped);
      if (found.empty()) fail(input, ": folder holds no PNG, JPEG, BMP or TIFF images");
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(input, ec)) {
      files.push_back(input);
    } else {
      fail(input, ": no such file or folder");
    }
  }
  return files;
}

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

c10::Device parse_device(const std::string& text) {
  if (text == "cpu") return c10::Device("cpu");
  if (text == "cuda") {
    if (!torch::cuda::is_available()) fail("--device cuda: no CUDA device is available to this build");
    return c10::Device("cuda");
  }
  fail("--device must be cpu or cuda, got \"", text, "\"");
}

void add_precision_option(CLI::App& cmd, std::string& value) {
  cmd.add_option("--precision", value,
                 "fp32, bf16 (half the time on CPUs with AVX512-BF16), fp16 (CUDA), int8 (the convolutions in "
                 "8-bit integers on CPUs with VNNI, the rest as auto) or auto (bf16 where the CPU has it natively, "
                 "fp16 on CUDA, else fp32)")
      ->capture_default_str();
}

void add_streams_option(CLI::App& cmd, int& value) {
  cmd.add_option("--streams", value,
                 "Batches run through the network at once, each on its share of the threads (default: 2 where "
                 "there are 2 threads and 2 batches or more; 1 for instance models, on CUDA and with --tile): faster "
                 "on folders of images; each holds its own activations")
      ->check(non_negative_integer());
}

int streams_for(int requested, c10::Device device) {
  return device.is_cpu() ? inference_streams(requested) : std::max(1, requested);
}

InferenceOptions inference_options(c10::Device device, const std::string& precision) {
  try {
    return precision_inference_options(device, precision);
  } catch (const std::invalid_argument& e) {
    fail("--precision: ", e.what());
  }
}

MaskEncoding parse_mask_encoding(const std::string& text) {
  if (text == "auto") return MaskEncoding::kAuto;
  if (text == "index") return MaskEncoding::kIndex;
  if (text == "binary") return MaskEncoding::kBinary;
  fail("--mask-encoding must be auto, index or binary, got \"", text, "\"");
}

Upsampling parse_upsampling(const std::string& text) { return upsampling_from_name(text, "--upsampling"); }

const ZooEntry& find_model_for(const std::string& name, Task task) {
  const ZooEntry& entry = find_model(name);
  if (entry.task == task) return entry;
  const char* command = entry.task == Task::kClassification ? "segkit classify" : "segkit predict";
  const auto article = [](Task t) { return t == Task::kInstance ? "an " : "a "; };
  fail(name, " is ", article(entry.task), task_name(entry.task), " model, not ", article(task), task_name(task),
       " one (use ", command, ")");
}

const ZooEntry& model_for(const std::string& flag, const std::string& weights, Task task) {
  if (weights.empty()) fail("give --weights (a checkpoint)");
  return find_model_for(resolve_model_name(flag, weights), task);
}

void add_upsampling_option(CLI::App& cmd, std::string& value) {
  cmd.add_option("--upsampling", value,
                 "U-Net with resize upsampling: nearest or bilinear (default: the checkpoint's, else bilinear)");
}

std::optional<Upsampling> parse_optional_upsampling(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return parse_upsampling(text);
}

std::vector<std::string> class_names_for(const std::string& flag, const LoadedModel& loaded, int64_t num_classes) {
  std::vector<std::string> names;
  if (!flag.empty()) {
    names = dataset_class_names(flag);
    if (names.empty()) names = read_class_names(flag);
    if (static_cast<int64_t>(names.size()) != num_classes) {
      fail(flag, ": names ", names.size(), " classes but the model has ", num_classes);
    }
    return names;
  }
  if (loaded.info) return loaded.info->class_names;
  return names;
}

at::Tensor palette_for(const std::string& flag, const LoadedModel& loaded, int64_t num_classes) {
  if (!flag.empty()) return load_palette(flag, num_classes);
  if (loaded.info && loaded.info->palette.defined() && loaded.info->palette.size(0) >= num_classes) {
    return loaded.info->palette;
  }
  return named_palette("voc", num_classes);
}

std::vector<std::string> read_class_names(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot open the class names file");
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (names.empty()) fail(path, ": names no classes");
  return names;
}

namespace {

// A whole number of at least `least`, named `what` in the error.
CLI::Validator integer_at_least(long long least, const std::string& what, const std::string& name) {
  return CLI::Validator(
      [least, what](std::string& text) -> std::string {
        try {
          size_t used = 0;
          if (std::stoll(text, &used) >= least && used == text.size()) return "";
        } catch (const std::exception&) {
        }
        return "must be " + what + ", got \"" + text + "\"";
      },
      name);
}

}  // namespace

const CLI::Validator& positive_integer() {
  static const CLI::Validator validator = integer_at_least(1, "a positive whole number", "POSITIVE");
  return validator;
}

const CLI::Validator& non_negative_integer() {
  static const CLI::Validator validator = integer_at_least(0, "a whole number of 0 or more", "NONNEGATIVE");
  return validator;
}

void add_image_reading_options(CLI::App& cmd, ImageReading& reading) {
  cmd.add_option("--max-pixels", reading.max_pixels,
                 "Refuse larger images, judged from the file's header before decoding (memory cap; must be positive)")
      ->check(positive_integer())
      ->capture_default_str();
  cmd.add_flag("--skip-bad", reading.skip_bad,
               "Skip images that cannot be read (truncated, corrupt, too large) with a line each, instead of stopping");
}

std::optional<Image> ImageReader::read(const std::string& path) {
  std::optional<Image> image;
  attempt(
      path, [&] { image = read_image(path, reading_.max_pixels); }, /*any_error=*/true);
  return image;
}

std::unique_ptr<ImageRows> ImageReader::open_rows(const std::string& path) {
  std::unique_ptr<ImageRows> image;
  attempt(
      path, [&] { image = std::make_unique<ImageRows>(path, reading_.max_pixels); }, /*any_error=*/true);
  return image;
}

bool ImageReader::attempt(const std::string& path, const std::function<void()>& work, bool any_error) {
  try {
    work();
    return true;
  } catch (const InputError& e) {  // names the file
    if (!reading_.skip_bad) throw;
    std::cerr << "segkit: skipped " << error_line(e.what()) << "\n";
  } catch (const std::exception& e) {  // out of memory for its pixels, an OpenCV or LibTorch failure
    if (!reading_.skip_bad || !any_error) throw;
    std::cerr << "segkit: skipped " << path << ": " << error_line(e.what()) << "\n";
  }
  ++skipped_;
  return false;
}

void ImageReader::finish(size_t total) const {
  if (skipped_ == 0) return;
  if (skipped_ == total) fail("none of the ", total, " images could be read (see the lines above)");
  std::cerr << "segkit: skipped " << skipped_ << " of " << total << " images (--skip-bad)\n";
}

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(std::max(0.0, seconds));
  std::ostringstream out;
  if (s >= 3600) out << s / 3600 << "h" << std::setw(2) << std::setfill('0');
  out << (s % 3600) / 60 << "m" << std::setw(2) << std::setfill('0') << s % 60 << "s";
  return out.str();
}

Progress::Progress(size_t total, std::string what)
    : total_(total), what_(std::move(what)), tty_(::isatty(STDERR_FILENO)), start_(std::chrono::steady_clock::now()) {}

void Progress::update(size_t done, const std::string& item) {
  if (total_ < 2) return;
  // A log gets a line per tenth of the way once a second has passed (quick jobs stay quiet).
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const size_t tenth = done * 10 / total_;
  if (!tty_ && ((tenth <= printed_tenth_ && done != total_) || elapsed < 1.0)) return;
  printed_tenth_ = tenth;
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  std::ostringstream line;
  line << what_ << " [" << done << "/" << total_ << "] " << std::fixed << std::setprecision(1) << rate << "/s";
  if (rate > 0 && done < total_) line << " ETA " << format_duration(static_cast<double>(total_ - done) / rate);
  line << " " << item;
  std::cerr << (tty_ ? "\r" : "") << line.str() << (tty_ ? "\033[K" : "\n") << std::flush;
}

void Progress::finish() {
  if (total_ >= 2 && tty_) std::cerr << "\n";
}

}  // namespace segkit::cli
