#include "segkit/infer/tiled_inference.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "segkit/models/segmentors/unet.h"

namespace segkit {
namespace {

at::Tensor random_image(int64_t h, int64_t w, uint64_t seed) {
  at::manual_seed(seed);
  return at::randint(0, 256, {h, w, 1}, at::kByte).expand({h, w, 3}).contiguous();
}

// A fresh U-Net for a predictor to take over.
Segmentor random_unet(const UNetOptions& options) {
  at::manual_seed(0);
  return UNet(options).ptr();
}

TEST(TiledInference, UnpaddedUNetTilesEqualTheWholeImage) {
  Predictor predictor(random_unet(UNetOptions().depth(3).base_width(4)), Preprocess::gray());
  const at::Tensor image = random_image(151, 133, 1);
  const at::Tensor whole = TiledInference(predictor, TileOptions{}).logits(image);
  ASSERT_EQ(whole.sizes(), (std::vector<int64_t>{2, 151, 133}));
  for (int64_t tile : {92, 100, 120}) {
    const at::Tensor tiled = TiledInference(predictor, TileOptions{tile, 0, 2}).logits(image);
    const double error = (tiled - whole).abs().max().item<double>() / whole.abs().max().item<double>();
    EXPECT_LT(error, 1e-5) << "tile " << tile;
  }
}

TEST(TiledInference, StreamedMasksEqualArgmaxOfLogits) {
  Predictor predictor(random_unet(UNetOptions().depth(3).base_width(4).padding(true).batch_norm(true)),
                      Preprocess::gray());
  const at::Tensor image = random_image(97, 61, 2);
  TiledInference tiler(predictor, TileOptions{40, 8, 1});
  const at::Tensor logits = tiler.logits(image);
  std::vector<at::Tensor> bands;
  tiler.masks(image, [&](const at::Tensor& rows) { bands.push_back(rows.clone()); });
  EXPECT_GT(bands.size(), 1u);
  EXPECT_TRUE(at::cat(bands, 0).equal(logits.argmax(0)));
}

// An image file read in bands as the tile rows need them gives the masks of the image read
// whole, each band with the image's own pixels of its rows: for an unpadded U-Net (a border of
// mirrored rows larger than a tile row's stride; on a short image, tiles that mirror past the
// bottom up to rows an earlier tile row did not need) and a padded one with overlapping tiles.
TEST(TiledInference, ImagesReadInBandsGiveTheMasksOfTheWholeImage) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("segkit_tiled_rows_" + std::to_string(getpid())));
  std::filesystem::create_directories(dir);
  struct Case {
    int64_t height;
    bool padded;
    TileOptions tiles;
    size_t min_bands;
  };
  for (const Case& c : {Case{173, false, TileOptions{56, 0, 1}, 4}, Case{37, false, TileOptions{56, 0, 1}, 2},
                        Case{173, true, TileOptions{40, 8, 2}, 4}}) {
    SCOPED_TRACE(std::to_string(c.height) + (c.padded ? " rows, padded" : " rows, unpadded"));
    const at::Tensor image = random_image(c.height, 67, 5);
    write_rgb_png(image, dir + "/image.png");
    Predictor predictor(random_unet(UNetOptions().depth(3).base_width(4).padding(c.padded)), Preprocess::gray());
    TiledInference tiler(predictor, c.tiles);
    const at::Tensor expected = tiler.logits(image).argmax(0);
    ImageRows rows(dir + "/image.png");
    std::vector<at::Tensor> masks, pixels;
    tiler.masks(rows, [&](const at::Tensor& mask, const at::Tensor& band) {
      masks.push_back(mask.clone());
      pixels.push_back(band.clone());
    });
    EXPECT_GE(masks.size(), c.min_bands) << "tile rows";
    EXPECT_TRUE(at::cat(masks).equal(expected));
    EXPECT_TRUE(at::cat(pixels).equal(image));
  }
  std::filesystem::remove_all(dir);
}

// Blended tiles against the definition, written out: every tile (mirrored past the image's
// edges) through the network, its logits weighted by a window that ramps up over `overlap`
// pixels from each edge, summed, and divided by the summed windows. Tiles of 40 with overlaps of
// 8 and of 24 (three tiles meet at some pixels) and tiles of 48 in batches, on an image whose
// sides are not multiples of the strides.
TEST(TiledInference, BlendedLogitsAreTheWeightedMeanOfTheTiles) {
  Predictor predictor(random_unet(UNetOptions().depth(3).base_width(4).padding(true).batch_norm(true)),
                      Preprocess::gray());
  const int64_t height = 75, width = 101;
  const at::Tensor image = random_image(height, width, 6);
  const auto mirrored = [](int64_t start, int64_t length, int64_t size) {
    std::vector<int64_t> indices;
    for (int64_t i = start; i < start + length; ++i) indices.push_back(i < size ? i : 2 * (size - 1) - i);
    return at::tensor(indices, at::kLong);
  };
  const auto ramp = [](int64_t length, int64_t overlap) {
    const at::Tensor i = at::arange(length, at::kFloat) + 0.5;
    return at::minimum(at::minimum(i / overlap, (length - i) / overlap), at::ones_like(i));
  };
  for (const TileOptions& tiles : {TileOptions{40, 8, 1}, TileOptions{40, 24, 3}, TileOptions{48, 16, 2}}) {
    SCOPED_TRACE("tile " + std::to_string(tiles.tile) + ", overlap " + std::to_string(tiles.overlap));
    const int64_t side = tiles.tile, stride = side - tiles.overlap;
    const at::Tensor window = ramp(side, tiles.overlap).view({side, 1}) * ramp(side, tiles.overlap).view({1, side});
    at::Tensor sum = at::zeros({2, height + side, width + side}), weights = at::zeros({height + side, width + side});
    for (int64_t y = 0; y == 0 || y - stride + side < height; y += stride) {
      for (int64_t x = 0; x == 0 || x - stride + side < width; x += stride) {
        const at::Tensor tile =
            image.index_select(0, mirrored(y, side, height)).index_select(1, mirrored(x, side, width));
        const at::Tensor logits = predictor.forward(predictor.preprocess().normalize(tile).unsqueeze(0))[0];
        sum.slice(1, y, y + side).slice(2, x, x + side).add_(logits * window);
        weights.slice(0, y, y + side).slice(1, x, x + side).add_(window);
      }
    }
    const at::Tensor expected = (sum / weights).slice(1, 0, height).slice(2, 0, width);
    const at::Tensor blended = TiledInference(predictor, tiles).logits(image);
    ASSERT_EQ(blended.sizes(), expected.sizes());
    EXPECT_LT((blended - expected).abs().max().item<double>() / expected.abs().max().item<double>(), 1e-5);
  }
}

TEST(TiledInference, BlendingShrinksSeams) {
  // Padded convolutions see zeros at tile edges, so tiles differ from the whole image
  // near their edges; overlapping and blending must bring them closer.
  Predictor predictor(random_unet(UNetOptions().depth(3).base_width(4).padding(true).upsampling(Upsampling::kBilinear)),
                      Preprocess::gray());
  const at::Tensor image = random_image(128, 128, 3);
  const at::Tensor whole = TiledInference(predictor, TileOptions{}).logits(image);
  auto error = [&](int64_t overlap) {
    const at::Tensor tiled = TiledInference(predictor, TileOptions{48, overlap, 1}).logits(image);
    return (tiled - whole).abs().mean().item<double>();
  };
  const double hard_seams = error(0);
  const double blended = error(16);
  EXPECT_GT(hard_seams, 0.0);
  EXPECT_LT(blended, 0.7 * hard_seams) << "no overlap " << hard_seams << ", 16 px overlap " << blended;
}

TEST(TiledInference, RefusesAnOverlapThatLeavesNoStride) {
  Predictor predictor(random_unet(UNetOptions().depth(3).base_width(4)), Preprocess::gray());
  EXPECT_THROW(TiledInference(predictor, TileOptions{92, 60, 1}).logits(random_image(200, 200, 4)), std::exception);
}

}  // namespace
}  // namespace segkit
