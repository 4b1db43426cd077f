#pragma once

// Overlap-tile inference (the U-Net paper's Fig. 2): the image is cut into tiles,
// each extended by the model's lost border (and extrapolated by mirroring where it
// leaves the image), run separately and stitched. For an unpadded U-Net the tiles
// start on the model's pooling grid, so the stitched logits equal the untiled ones;
// for padded models overlapping tiles are blended with weights that fall off toward
// the tile edges. Works on images of any size; the streaming form reads the image's rows as
// the tiles need them and keeps only one row of tiles in memory.

#include <ATen/Tensor.h>

#include <functional>

#include "segkit/infer/predictor.h"

namespace segkit {

struct TileOptions {
  /// Input tile side (rounded up to a size the model takes); 0: the whole image in one pass.
  int64_t tile = 0;
  /// Output pixels shared by neighbouring tiles, blended.
  int64_t overlap = 0;
  /// Tiles per forward pass.
  int64_t batch = 1;
};

class TiledInference {
 public:
  /// Uses the predictor's model and preprocessing (without its resize: tiles are taken at
  /// the image's own resolution).
  TiledInference(Predictor& predictor, const TileOptions& options);

  /// Logits (classes x H x W float) for an H x W x 3 uint8 image.
  at::Tensor logits(const at::Tensor& pixels);
  /// Class indices (R x W int64 bands, top to bottom), each band handed to `sink` once final.
  void masks(const at::Tensor& pixels, const std::function<void(const at::Tensor& rows)>& sink);
  /// The same for an image read as the tiles need its rows (an image of any size in a row of
  /// tiles' memory), each band handed over with the image's pixels of the same rows.
  using MaskSink = std::function<void(const at::Tensor& rows, const at::Tensor& pixels)>;
  void masks(ImageRows& image, const MaskSink& sink);

 private:
  // The tiles' blended logits as they become final: blocks of a band of rows (C x rows x
  // columns at first_row, first_col) left to right, then the band's end with its rows of the image.
  using BlockSink = std::function<void(int64_t first_row, int64_t first_col, const at::Tensor& logits)>;
  using BandSink = std::function<void(int64_t first_row, int64_t count, const at::Tensor& pixels)>;
  void run(ImageRows& image, const BlockSink& block_sink, const BandSink& band_sink);

  Predictor& predictor_;
  TileOptions options_;
};

}  // namespace segkit
