#pragma once

// Labelled images for training and evaluation: pairs of an image and a mask file,
// found in two folders by name or listed in a file, read and checked on demand.

#include <ATen/Tensor.h>

#include <functional>
#include <string>
#include <vector>

namespace segkit {

struct SamplePaths {
  std::string image;
  std::string mask;
};

enum class MaskEncoding {
  kAuto,    ///< binary if every mask holds only 0 and 255, class indices otherwise
  kIndex,   ///< pixel value = class index
  kBinary,  ///< 0 = class 0, 255 = class 1 (other values are an error)
};

struct DatasetOptions {
  int64_t num_classes = 2;
  /// Pixels with this mask value do not count (-1: none).
  int64_t ignore_index = 255;
  MaskEncoding encoding = MaskEncoding::kAuto;
  /// Skip unreadable or inconsistent samples with a warning instead of failing.
  bool skip_bad = false;
};

/// Pairs each image in `images_dir` with the file of the same stem in `masks_dir`.
/// An image without a mask is an error naming it; so is an empty folder.
std::vector<SamplePaths> pair_folders(const std::string& images_dir, const std::string& masks_dir);

/// CamVid-style list: one "image mask" pair per line, relative to the list's folder.
std::vector<SamplePaths> read_list_file(const std::string& list_path);

/// An image (H x W x 3 uint8) and its mask (H x W int64 class indices, ignore_index kept).
struct LabeledImage {
  at::Tensor image;
  at::Tensor mask;
  SamplePaths paths;
};

/// Auto: binary when two classes are asked for and every mask holds only 0 and 255 (and
/// 255 somewhere); otherwise class indices, where 255 is usually the ignore index.
bool masks_are_binary(const std::vector<at::Tensor>& raw_masks, const DatasetOptions& options);

/// A mask as read (H x W int64) to class indices: binary 0/255 to 0/1, or class indices
/// checked against the class count; the error names `path` and the bad value.
at::Tensor decode_mask(const at::Tensor& raw_mask, const std::string& path, const DatasetOptions& options, bool binary);

/// Reads and checks one pair: sizes must match and every mask value must be a class
/// or the ignore index (the error names the file and the value).
LabeledImage read_labeled_image(const SamplePaths& paths, const DatasetOptions& options, bool binary);

/// A dataset read whole into memory, checked once. With options.skip_bad, bad pairs
/// are dropped with a warning on stderr; without, the first one is an error. `on_read` is
/// told after each file pair is read.
class SegmentationDataset {
 public:
  SegmentationDataset(std::vector<SamplePaths> samples, const DatasetOptions& options,
                      const std::function<void(size_t done, size_t total)>& on_read = nullptr);

  size_t size() const { return items_.size(); }
  const LabeledImage& operator[](size_t i) const { return items_[i]; }
  bool binary() const { return binary_; }
  const DatasetOptions& options() const { return options_; }

 private:
  std::vector<LabeledImage> items_;
  DatasetOptions options_;
  bool binary_ = false;
};

}  // namespace segkit
