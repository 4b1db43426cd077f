#pragma once

// COCO's detection and instance-segmentation metrics, as pycocotools' COCOeval computes them
// (evaluate, accumulate, summarize) with its default parameters: IoU thresholds 0.50:0.05:0.95,
// 101 recall points, area ranges all / small (< 32^2) / medium / large (> 96^2), at most 1, 10
// and 100 detections per image; crowd regions matched by intersection over the detection's
// area and never counted as misses; detections sorted by score with a stable sort.

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "segkit/eval/rle.h"

namespace segkit {

struct CocoImage {
  int64_t id = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::string file_name;
};

/// A ground-truth object or a detection, as COCOeval sees it.
struct CocoObject {
  /// Annotations: the file's ids; detections: 1, 2, ... in the results file's order (loadRes).
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  std::array<double, 4> bbox{};  ///< x, y, width, height
  /// Ground truth: the annotation's own "area"; detections: as loadRes sets it (the box's for
  /// results with boxes, the mask's for mask-only results).
  double area = 0;
  bool iscrowd = false;
  double score = 0;         ///< detections
  std::optional<Rle> mask;  ///< the segmentation at its image's size, where there is one
};

/// Ground truth: images, categories (id to name) and annotations.
struct CocoDataset {
  std::vector<CocoImage> images;
  std::map<int64_t, std::string> categories;
  std::vector<CocoObject> annotations;

  const CocoImage* image(int64_t id) const;
  /// Whether every annotation has a mask (mask AP can be computed).
  bool has_masks() const;
};

enum class IouType { kBox, kMask };

/// COCOeval's twelve summary numbers: AP, AP50, AP75, AP small/medium/large, AR at 1, 10 and
/// 100 detections, AR small/medium/large. -1 where nothing could be measured, as pycocotools.
struct CocoStats {
  std::array<double, 12> values{};
  static const std::array<const char*, 12>& names();  ///< "AP", "AP50", ..., "ARl"
};

/// Scores `detections` against `truth` over the dataset's images and categories.
CocoStats coco_evaluate(const CocoDataset& truth, const std::vector<CocoObject>& detections, IouType type);

}  // namespace segkit
