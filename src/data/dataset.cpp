#include "segkit/data/dataset.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>

#include "segkit/core/errors.h"
#include "segkit/data/list_file.h"
#include "segkit/io/image.h"
#include "segkit/io/label_image.h"

namespace segkit {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> list_images(const std::string& dir) {
  std::vector<std::string> skipped;
  const auto images = list_image_files(dir, skipped);
  report_skipped_files(dir, skipped);
  return {images.begin(), images.end()};
}

bool only_0_and_255(const at::Tensor& mask) { return mask.eq(0).logical_or(mask.eq(255)).all().item<bool>(); }

}  // namespace

std::vector<SamplePaths> pair_folders(const std::string& images_dir, const std::string& masks_dir) {
  const auto images = list_images(images_dir);
  if (images.empty()) fail(images_dir, ": folder holds no images (PNG, JPEG, BMP, TIFF)");
  std::map<std::string, fs::path> masks;
  for (const auto& m : list_images(masks_dir)) masks.emplace(m.stem().string(), m);
  std::vector<SamplePaths> samples;
  for (const auto& image : images) {
    auto it = masks.find(image.stem().string());
    if (it == masks.end()) fail(image.string(), ": no mask of the same name in ", masks_dir);
    samples.push_back({image.string(), it->second.string()});
  }
  return samples;
}

std::vector<SamplePaths> read_list_file(const std::string& list_path) {
  std::vector<SamplePaths> samples;
  for (const auto& line : read_list_lines(list_path, "image mask")) {
    samples.push_back({line.path, resolve_list_path(list_path, line.value)});
  }
  return samples;
}

namespace {

LabeledImage read_raw(const SamplePaths& paths) {
  LabeledImage item;
  item.paths = paths;
  item.image = read_image(paths.image).pixels;
  item.mask = read_label_image(paths.mask);
  if (item.mask.size(0) != item.image.size(0) || item.mask.size(1) != item.image.size(1)) {
    fail(paths.mask, ": mask is ", item.mask.size(1), "x", item.mask.size(0), " but its image ", paths.image, " is ",
         item.image.size(1), "x", item.image.size(0));
  }
  return item;
}

}  // namespace

at::Tensor decode_mask(const at::Tensor& mask, const std::string& path, const DatasetOptions& options, bool binary) {
  if (binary) {
    if (!only_0_and_255(mask)) {
      const int64_t bad = mask.masked_select(mask.ne(0).logical_and(mask.ne(255))).min().item<int64_t>();
      fail(path, ": binary mask holds the value ", bad, " (expected only 0 and 255)");
    }
    return mask.eq(255).to(at::kLong);
  }
  const at::Tensor bad = mask.ge(options.num_classes).logical_and(mask.ne(options.ignore_index));
  if (bad.any().item<bool>()) {
    const int64_t value = mask.masked_select(bad).max().item<int64_t>();
    fail(path, ": mask value ", value, " is not a class (0 to ", options.num_classes - 1, ")",
         options.ignore_index >= 0 ? " nor the ignore index " + std::to_string(options.ignore_index) : "",
         "; if it marks pixels that do not count, give --ignore-index ", value);
  }
  return mask;
}

bool masks_are_binary(const std::vector<at::Tensor>& masks, const DatasetOptions& options) {
  if (options.encoding != MaskEncoding::kAuto) return options.encoding == MaskEncoding::kBinary;
  if (options.num_classes != 2) return false;
  bool any_255 = false;
  for (const auto& mask : masks) {
    if (!only_0_and_255(mask)) return false;
    any_255 = any_255 || mask.eq(255).any().item<bool>();
  }
  return any_255;
}

LabeledImage read_labeled_image(const SamplePaths& paths, const DatasetOptions& options, bool binary) {
  LabeledImage item = read_raw(paths);
  item.mask = decode_mask(item.mask, paths.mask, options, binary);
  return item;
}

SegmentationDataset::SegmentationDataset(std::vector<SamplePaths> samples, const DatasetOptions& options,
                                         const std::function<void(size_t done, size_t total)>& on_read)
    : options_(options) {
  if (samples.empty()) fail("the dataset is empty");
  for (size_t i = 0; i < samples.size(); ++i) {
    try {
      items_.push_back(read_raw(samples[i]));
    } catch (const InputError& e) {
      if (!options.skip_bad) throw;
      std::cerr << "segkit: warning: skipping a sample: " << e.what() << "\n";
    }
    if (on_read) on_read(i + 1, samples.size());
  }
  std::vector<at::Tensor> masks;
  for (const auto& item : items_) masks.push_back(item.mask);
  binary_ = masks_are_binary(masks, options);
  masks.clear();
  std::vector<LabeledImage> good;
  for (auto& item : items_) {
    try {
      item.mask = decode_mask(item.mask, item.paths.mask, options, binary_);
      good.push_back(std::move(item));
    } catch (const InputError& e) {
      if (!options.skip_bad) throw;
      std::cerr << "segkit: warning: skipping a sample: " << e.what() << "\n";
    }
  }
  items_ = std::move(good);
  if (items_.empty()) fail("the dataset is empty: every sample was skipped");
}

}  // namespace segkit
