#include "segkit/data/classification_dataset.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>

#include "segkit/core/errors.h"
#include "segkit/data/list_file.h"
#include "segkit/io/image.h"

namespace segkit {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> sorted_entries(const fs::path& dir, bool folders) {
  std::error_code ec;
  std::vector<fs::path> entries;
  for (const auto& item : fs::directory_iterator(dir, ec)) {
    const std::string name = item.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (folders ? item.is_directory(ec) : !item.is_directory(ec)) entries.push_back(item.path());
  }
  if (ec) fail(dir.string(), ": cannot list folder (", ec.message(), ")");
  std::sort(entries.begin(), entries.end());
  return entries;
}

}  // namespace

ClassSamples scan_image_folder(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) fail(root, ": no such folder");
  ClassSamples result;
  std::vector<std::string> skipped;
  for (const auto& dir : sorted_entries(root, /*folders=*/true)) {
    const int64_t label = static_cast<int64_t>(result.classes.size());
    result.classes.push_back(dir.filename().string());
    for (const auto& file : list_image_files(dir.string(), skipped)) result.samples.push_back({file, label});
  }
  for (const auto& file : sorted_entries(root, /*folders=*/false)) skipped.push_back(file.string());
  report_skipped_files(root, skipped);
  if (result.classes.empty()) fail(root, ": holds no class folders (expected ROOT/<class>/<image>)");
  if (result.samples.empty()) fail(root, ": its class folders hold no files");
  return result;
}

ClassSamples read_class_list(const std::string& list_path, std::vector<std::string> classes) {
  ClassSamples result;
  int64_t max_label = -1;
  for (const auto& line : read_list_lines(list_path, "image label")) {
    size_t used = 0;
    int64_t label = -1;
    try {
      label = std::stoll(line.value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != line.value.size() || label < 0) {
      fail(list_path, ":", line.number, ": the label must be a class index (0, 1, ...), got \"", line.value, "\"");
    }
    max_label = std::max(max_label, label);
    result.samples.push_back({line.path, label});
  }
  if (classes.empty()) {
    for (int64_t k = 0; k <= max_label; ++k) classes.push_back(std::to_string(k));
  } else if (max_label >= static_cast<int64_t>(classes.size())) {
    fail(list_path, ": label ", max_label, " is not one of the ", classes.size(), " classes");
  }
  result.classes = std::move(classes);
  return result;
}

ClassificationDataset::ClassificationDataset(ClassSamples samples, const ClassificationDatasetOptions& options,
                                             const std::function<void(size_t done, size_t total)>& on_read)
    : classes_(std::move(samples.classes)) {
  const size_t n = samples.samples.size();
  std::vector<at::Tensor> decoded(n);
  std::vector<std::string> errors(n);
  std::atomic<size_t> done{0};
  const size_t threads = static_cast<size_t>(std::max<int64_t>(1, options.threads));
  std::vector<std::future<void>> jobs;
  for (size_t t = 0; t < threads; ++t) {
    jobs.push_back(std::async(std::launch::async, [&, t] {
      at::set_num_threads(1);
      for (size_t i = t; i < n; i += threads) {
        try {
          at::Tensor pixels = read_image(samples.samples[i].path, options.max_pixels).pixels;
          const int64_t short_side = std::min(pixels.size(0), pixels.size(1));
          if (options.max_short_side > 0 && short_side > options.max_short_side) {
            const double s = static_cast<double>(options.max_short_side) / static_cast<double>(short_side);
            pixels = resize_image(pixels, std::max<int64_t>(1, std::llround(pixels.size(0) * s)),
                                  std::max<int64_t>(1, std::llround(pixels.size(1) * s)));
          }
          decoded[i] = pixels;
        } catch (const InputError& e) {
          errors[i] = e.what();
        }
        ++done;
      }
    }));
  }
  // The decoders' progress, told from this thread a few times a second.
  for (auto& job : jobs) {
    while (job.wait_for(std::chrono::milliseconds(250)) != std::future_status::ready) {
      if (on_read) on_read(done.load(), n);
    }
    job.get();
  }
  if (on_read) on_read(n, n);
  for (size_t i = 0; i < n; ++i) {
    if (!errors[i].empty()) {
      if (!options.skip_bad) fail(errors[i], " (--skip-bad leaves such files out)");
      skipped_.push_back(errors[i]);
      continue;
    }
    samples_.push_back(samples.samples[i]);
    images_.push_back(std::move(decoded[i]));
  }
  if (images_.empty()) fail("the dataset is empty", skipped_.empty() ? "" : ": every file was skipped");
}

}  // namespace segkit
