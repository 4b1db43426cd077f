#pragma once

// COCO's run-length encoding of binary masks, as pycocotools' maskApi.c: the mask read in
// column-major order (down each column, then the next column), as alternating run lengths
// that start with a run of zeros (possibly empty); and the compressed string form of the
// counts that COCO JSON files hold (each count minus the one two before it, in 5-bit groups
// with a continuation bit, as characters from '0').

#include <ATen/Tensor.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace segkit {

struct Rle {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint32_t> counts;
};

/// Encodes an H x W mask (bool or integer; non-zero is inside).
Rle rle_encode(const at::Tensor& mask);
/// Throws InputError when the counts do not add up to H x W.
void rle_check(const Rle& rle);
/// The H x W uint8 mask (0 or 1); rle_check's error for counts that do not fit.
at::Tensor rle_decode(const Rle& rle);

/// The compressed counts string ("counts" in COCO JSON).
std::string rle_to_string(const Rle& rle);
/// Parses a compressed counts string for an H x W mask; throws InputError for a malformed one.
Rle rle_from_string(const std::string& counts, int64_t height, int64_t width);

/// A polygon (x0, y0, x1, y1, ...) rasterized as pycocotools' rleFrPoly does it: the outline
/// upsampled 5 times, the crossings of pixel centres' columns kept.
Rle rle_from_polygon(const std::vector<double>& xy, int64_t height, int64_t width);
/// The union of masks of one size (pycocotools' merge).
Rle rle_union(const std::vector<Rle>& masks);

/// Pixels inside.
int64_t rle_area(const Rle& rle);
/// The bounding box (x, y, width, height) of the pixels inside, as pycocotools' toBbox; zeros when empty.
std::array<double, 4> rle_bbox(const Rle& rle);

/// pycocotools' iou() of boxes (x, y, width, height): intersection over union, or over the
/// detection's area alone where the ground truth is a crowd region.
double box_iou_xywh(const std::array<double, 4>& detection, const std::array<double, 4>& truth, bool crowd);
/// The same for masks (rleIou): 0 where the boxes do not overlap; -1 for masks of different sizes.
double rle_iou(const Rle& detection, const Rle& truth, bool crowd);

}  // namespace segkit
