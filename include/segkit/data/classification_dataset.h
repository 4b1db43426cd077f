#pragma once

// Labelled images for classification: the ImageFolder layout (one folder per class,
// classes in sorted order, as torchvision's ImageFolder) or a list file of
// "image label" lines. Every file in a class folder counts: one that is not a readable
// image is an error naming it, or, with skip_bad, left out and reported.

#include <ATen/Tensor.h>

#include <functional>
#include <string>
#include <vector>

namespace segkit {

struct ClassSample {
  std::string path;
  int64_t label = 0;
};

/// Samples and the class names their labels index.
struct ClassSamples {
  std::vector<ClassSample> samples;
  std::vector<std::string> classes;
};

/// ROOT/<class>/<file>, classes sorted by name; hidden files are ignored.
ClassSamples scan_image_folder(const std::string& root);

/// One "image label" pair per line (label: a class index), paths relative to the list's
/// folder. Class names are the indices unless `classes` names them.
ClassSamples read_class_list(const std::string& list_path, std::vector<std::string> classes = {});

struct ClassificationDatasetOptions {
  /// Leave unreadable files out (see skipped()) instead of failing.
  bool skip_bad = false;
  /// Images are kept decoded in memory, shrunk so that their short side is at most this (0: as they are).
  int64_t max_short_side = 0;
  /// Refuse images with more pixels (0: no limit).
  int64_t max_pixels = 100'000'000;
  /// Decoding threads.
  int64_t threads = 2;
};

/// Every image decoded once, in parallel, and kept in memory.
class ClassificationDataset {
 public:
  /// `on_read` is told how many images are decoded, a few times a second, from this thread.
  ClassificationDataset(ClassSamples samples, const ClassificationDatasetOptions& options,
                        const std::function<void(size_t done, size_t total)>& on_read = nullptr);

  size_t size() const { return images_.size(); }
  /// H x W x 3 uint8.
  const at::Tensor& image(size_t i) const { return images_[i]; }
  int64_t label(size_t i) const { return samples_[i].label; }
  const std::string& path(size_t i) const { return samples_[i].path; }
  const std::vector<std::string>& classes() const { return classes_; }
  int64_t num_classes() const { return static_cast<int64_t>(classes_.size()); }
  /// One message per file left out under skip_bad.
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  std::vector<ClassSample> samples_;
  std::vector<at::Tensor> images_;
  std::vector<std::string> classes_;
  std::vector<std::string> skipped_;
};

}  // namespace segkit
