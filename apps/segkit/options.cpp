#include "options.h"

#include <torch/cuda.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "segkit/core/errors.h"
#include "segkit/io/image.h"

namespace segkit::cli {

namespace fs = std::filesystem;

void add_data_options(CLI::App& cmd, DataArgs& args, const std::string& prefix) {
  const std::string what = prefix.empty() ? "labelled" : "validation";
  cmd.add_option("--" + prefix + "images", args.images, "Folder of " + what + " images");
  cmd.add_option("--" + prefix + "masks", args.masks, "Folder of " + what + " masks, named as the images");
  cmd.add_option("--" + prefix + "list", args.list, "List file of \"image mask\" lines (" + what + ")");
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

Upsampling parse_upsampling(const std::string& text) {
  if (text == "transposed") return Upsampling::kTransposed;
  if (text == "nearest") return Upsampling::kNearest;
  if (text == "bilinear") return Upsampling::kBilinear;
  fail("--upsampling must be transposed, nearest or bilinear, got \"", text, "\"");
}

const ZooEntry& find_model_for(const std::string& name, Task task) {
  const ZooEntry& entry = find_model(name);
  if (entry.task == task) return entry;
  const char* command = entry.task == Task::kClassification ? "segkit classify" : "segkit predict";
  fail(name, " is a ", task_name(entry.task), " model, not a ", task_name(task), " one (use ", command, ")");
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

Progress::Progress(size_t total, std::string what)
    : total_(total), what_(std::move(what)), tty_(::isatty(STDERR_FILENO)) {}

void Progress::update(size_t done, const std::string& item) {
  if (total_ < 2) return;
  // A log file gets a line per tenth of the way, a terminal every item.
  const size_t step = std::max<size_t>(1, total_ / 10);
  if (!tty_ && done % step != 0 && done != total_) return;
  std::cerr << (tty_ ? "\r" : "") << what_ << " [" << done << "/" << total_ << "] " << item << (tty_ ? "\033[K" : "\n")
            << std::flush;
}

void Progress::finish() {
  if (total_ >= 2 && tty_) std::cerr << "\n";
}

}  // namespace segkit::cli
