#include <gtest/gtest.h>

#include <fstream>

#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"
#include "segkit/io/image.h"
#include "segkit/io/npy.h"
#include "segkit/io/overlay.h"
#include "test_util.h"

namespace segkit {
namespace {

using testing::fixture;
using testing::temp_dir;

TEST(Image, ReadsEveryFormatAndModeAsRgb) {
  const at::Tensor rgb = read_npy(fixture("images/rgb.npy"));
  for (const char* name : {"rgb.png", "rgb.bmp", "rgb.tif", "rgba.png"}) {
    const Image image = read_image(fixture(std::string("images/") + name));
    EXPECT_TRUE(image.pixels.equal(rgb)) << name;
  }
  const at::Tensor gray = read_image(fixture("images/gray.png")).pixels;
  EXPECT_TRUE(gray.equal(rgb.select(2, 0).unsqueeze(2).expand({-1, -1, 3}))) << "gray";
  EXPECT_TRUE(read_image(fixture("images/gray16.png")).pixels.equal(read_npy(fixture("images/gray16_as_rgb.npy"))));
  const at::Tensor jpeg = read_image(fixture("images/rgb.jpg")).pixels;
  EXPECT_EQ(jpeg.sizes(), rgb.sizes());
  EXPECT_LT((jpeg.to(at::kFloat) - rgb.to(at::kFloat)).abs().mean().item<double>(), 12.0) << "lossy, but close";
}

void expect_image_error(const std::string& path, const std::string& fragment, int64_t max_pixels = 0) {
  try {
    read_image(path, max_pixels);
    ADD_FAILURE() << "no error for " << path;
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(Image, BadFilesGiveErrorsNamingTheFile) {
  const std::string dir = temp_dir("bad_images");
  expect_image_error(dir + "/missing.png", "no such file");
  std::ofstream(dir + "/text.png") << "not an image";
  expect_image_error(dir + "/text.png", "not a readable image");
  const std::string png = read_file(fixture("images/rgb.png"));
  std::ofstream(dir + "/cut.png", std::ios::binary) << png.substr(0, png.size() / 2);
  expect_image_error(dir + "/cut.png", "not a readable image");
  expect_image_error(fixture("images/rgb.png"), "over the limit of 100 pixels", 100);
}

TEST(Image, LabelPngRoundTrips) {
  const std::string dir = temp_dir("labels");
  const at::Tensor labels = at::randint(0, 21, {13, 9}, at::kLong);
  write_label_png(labels, dir + "/mask.png");
  EXPECT_TRUE(read_image(dir + "/mask.png").pixels.select(2, 0).to(at::kLong).equal(labels));
}

TEST(Image, ResizeKeepsConstantImagesConstant) {
  const at::Tensor flat = at::full({10, 14, 3}, 77, at::kByte);
  EXPECT_TRUE(resize_image(flat, 5, 7).eq(77).all().item<bool>());
  EXPECT_TRUE(resize_image(flat, 21, 29).eq(77).all().item<bool>());
  EXPECT_EQ(resize_image(flat, 21, 29).sizes(), (std::vector<int64_t>{21, 29, 3}));
}

TEST(Npy, RoundTripsAndReadsNumpyFiles) {
  const std::string dir = temp_dir("npy");
  for (const at::Tensor& t : {at::randn({3, 5, 7}), at::arange(5, at::kLong), at::randn({2, 2}, at::kDouble)}) {
    write_npy(t, dir + "/t.npy");
    const at::Tensor back = read_npy(dir + "/t.npy");
    EXPECT_TRUE(back.equal(t)) << t.sizes();
    EXPECT_EQ(std::filesystem::file_size(dir + "/t.npy") % 64, (t.numel() * t.element_size()) % 64);
  }
  EXPECT_EQ(read_npy(fixture("lraspp_mobilenet_v3_large/input.npy")).sizes(), (std::vector<int64_t>{2, 3, 97, 123}));
}

TEST(Overlay, UsesTheVocPaletteAndLeavesBackground) {
  const at::Tensor palette = voc_palette(21);
  EXPECT_TRUE(palette[1].equal(at::tensor({128, 0, 0}, at::kLong).to(at::kByte)));
  EXPECT_TRUE(palette[15].equal(at::tensor({192, 128, 128}, at::kLong).to(at::kByte)));  // person
  const at::Tensor image = at::full({2, 2, 3}, 100, at::kByte);
  const at::Tensor labels = at::tensor({0, 1, 0, 15}, at::kLong).view({2, 2});
  const at::Tensor out = overlay(image, labels, named_palette("voc", 21), 0.5);
  EXPECT_TRUE(out[0][0].equal(image[0][0]));  // VOC's background left bare
  EXPECT_TRUE(out[0][1].equal(at::tensor({114, 50, 50}, at::kLong).to(at::kByte)));
  // An RGB palette (or a named one whose class 0 is a real class) colours class 0 too.
  EXPECT_TRUE(overlay(image, labels, palette, 0.5)[0][0].equal(at::full({3}, 50, at::kByte)));
  const at::Tensor sky = named_palette("camvid", 11)[0];
  EXPECT_TRUE(overlay(image, labels, named_palette("camvid", 11), 0.5)[0][0].equal(at::full({3}, 114, at::kByte)))
      << sky;
}

TEST(Palette, ReadsFilesAndNamesTheBadLine) {
  const std::string dir = temp_dir("palette");
  {
    std::ofstream out(dir + "/p.txt");
    out << "none background\n#ff8000 road\n\n10, 20, 30\n";
  }
  const at::Tensor p = load_palette(dir + "/p.txt", 3);
  EXPECT_TRUE(
      p.equal(at::tensor({0, 0, 0, 0, 255, 128, 0, 255, 10, 20, 30, 255}, at::kLong).to(at::kByte).view({3, 4})));
  EXPECT_THROW_MESSAGE(load_palette(dir + "/p.txt", 4), "names 3 colours for 4 classes");
  {
    std::ofstream out(dir + "/bad.txt");
    out << "1 2 3\nred\n";
  }
  EXPECT_THROW_MESSAGE(load_palette(dir + "/bad.txt", 2), "bad.txt:2: not a colour");
  EXPECT_THROW_MESSAGE(load_palette("pastel", 2), "no such palette file");
  EXPECT_EQ(dataset_class_names("camvid").size(), 11u);
}

TEST(Overlay, LegendShowsEachClassSwatch) {
  const at::Tensor palette = named_palette("camvid", 11);
  const at::Tensor panel = legend_panel(dataset_class_names("camvid"), palette, 120);
  ASSERT_EQ(panel.size(0), 120);
  ASSERT_EQ(panel.size(2), 3);
  // 11 rows of 18 px do not fit 120 px: two columns. Each class's colour appears in the panel.
  for (int64_t k = 0; k < 11; ++k) {
    const at::Tensor colour = palette[k].slice(0, 0, 3);
    EXPECT_TRUE(panel.eq(colour).all(2).any().item<bool>()) << k;
  }
}

}  // namespace
}  // namespace segkit
