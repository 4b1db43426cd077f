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
