#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"
#include "segkit/io/image.h"
#include "segkit/io/label_image.h"
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
  // JPEG: exactly what PIL decodes (both through libjpeg-turbo), baseline, progressive and gray.
  for (const char* name : {"rgb.jpg", "progressive.jpg", "gray.jpg"}) {
    std::string npy = std::string("images/") + name;
    npy.replace(npy.find('.'), 1, "_");
    EXPECT_TRUE(read_image(fixture(std::string("images/") + name)).pixels.equal(read_npy(fixture(npy + "_by_pil.npy"))))
        << name;
  }
  // A palette PNG: its colours as an image, its indices as labels (as PIL reads them).
  EXPECT_TRUE(
      read_image(fixture("images/palette.png")).pixels.equal(read_npy(fixture("images/palette_rgb_by_pil.npy"))));
  EXPECT_TRUE(
      read_label_image(fixture("images/palette.png")).equal(read_npy(fixture("images/palette_indices_by_pil.npy"))));
}

void expect_image_error(const std::string& path, const std::string& fragment, int64_t max_pixels = kDefaultMaxPixels) {
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
  expect_image_error(dir + "/text.png", "not a PNG, JPEG, BMP or TIFF image");
  std::filesystem::create_directory(dir + "/folder.png");
  expect_image_error(dir + "/folder.png", "is a folder, not a file");
  ASSERT_EQ(::mkfifo((dir + "/pipe.png").c_str(), 0600), 0);
  expect_image_error(dir + "/pipe.png", "is a FIFO (named pipe), not a regular file");
  expect_image_error(fixture("images/rgb.png"), "over the limit of 100 pixels (--max-pixels raises it)", 100);
  expect_image_error(fixture("images/rgb.png"), "--max-pixels 0 (it must be positive)", 0);
}

// Every format cut short, or with its pixel data overwritten, is an error: OpenCV used to
// fill a truncated JPEG with grey and say nothing.
TEST(Image, TruncatedOrCorruptFilesOfEveryFormatAreErrors) {
  const std::string dir = temp_dir("truncated_images");
  for (const char* name : {"rgb.png", "rgb.jpg", "progressive.jpg", "gray.jpg", "rgb.bmp", "rgb.tif", "palette.png"}) {
    const std::string bytes = read_file(fixture(std::string("images/") + name));
    for (double fraction : {0.5, 0.9, 0.98}) {
      const std::string cut = dir + "/cut_" + name;
      std::ofstream(cut, std::ios::binary) << bytes.substr(0, static_cast<size_t>(bytes.size() * fraction));
      expect_image_error(cut, "truncated");
    }
  }
  // A JPEG whose entropy-coded data is garbage (markers left intact).
  std::string jpeg = read_file(fixture("images/rgb.jpg"));
  const size_t scan = jpeg.find("\xff\xda");
  for (size_t i = scan + 20; i < jpeg.size() - 2; ++i) jpeg[i] = static_cast<char>(jpeg[i] == '\xff' ? 0 : 0xff);
  std::ofstream(dir + "/garbage.jpg", std::ios::binary) << jpeg;
  expect_image_error(dir + "/garbage.jpg", "corrupt");
}

// Decompression bombs: headers that declare 60000 x 60000 pixels over a few bytes of pixel
// data that would not even decode. The refusal names --max-pixels, so it came from the header.
TEST(Image, PixelCapIsCheckedFromTheHeaderBeforeAnyPixel) {
  const std::string dir = temp_dir("bombs");
  auto with = [](std::string bytes, size_t at, const std::string& field) {
    return bytes.replace(at, field.size(), field);
  };
  const std::string big_be("\x00\x00\xea\x60", 4);  // 60000, big-endian (PNG)
  const std::string png = read_file(fixture("images/rgb.png"));
  std::ofstream(dir + "/bomb.png", std::ios::binary) << with(with(png, 16, big_be), 20, big_be);
  const std::string big_le("\x60\xea\x00\x00", 4);  // little-endian (BMP)
  const std::string bmp = read_file(fixture("images/rgb.bmp"));
  std::ofstream(dir + "/bomb.bmp", std::ios::binary) << with(with(bmp, 18, big_le), 22, big_le);
  std::string jpeg = read_file(fixture("images/rgb.jpg"));
  const size_t sof = jpeg.find("\xff\xc0");
  std::ofstream(dir + "/bomb.jpg", std::ios::binary) << with(jpeg, sof + 5, std::string("\xea\x60\xea\x60", 4));
  for (const char* name : {"bomb.png", "bomb.bmp", "bomb.jpg"}) {
    expect_image_error(dir + "/" + name, "is 60000x60000 pixels, over the limit of 100000000 pixels (--max-pixels");
    try {
      read_label_image(dir + "/" + name);
      ADD_FAILURE() << "no error for the label image " << name;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("--max-pixels"), std::string::npos) << e.what();
    }
  }
}

// An image read in bands of rows (uneven ones, as tile rows ask for them) is the image read
// whole: PNG in every mode, TIFF in strips and tiles, classic and BigTIFF, deflated or not
// (written by tifffile, as microscopes and slide scanners write them), baseline JPEG (4:2:0,
// gray, CMYK; a progressive one is read whole), gray ones as one channel.
TEST(ImageRows, BandsOfRowsAreTheImage) {
  const std::map<std::string, std::string> expected = {
      {"rows_rgb.png", "rows_rgb.npy"},
      {"rows_rgba.png", "rows_rgb.npy"},
      {"rows_gray.png", "rows_gray_as_rgb.npy"},
      {"rows_gray16.png", "rows_gray16_as_rgb.npy"},
      {"rows_rgb_strips.tif", "rows_rgb.npy"},
      {"rows_rgb_tiles.tif", "rows_rgb.npy"},
      {"rows_rgb_tiles_bigtiff.tif", "rows_rgb.npy"},
      {"rows_gray_tiles_bigtiff.tif", "rows_gray_as_rgb.npy"},
      {"rows_gray16_tiles_bigtiff.tif", "rows_gray16_as_rgb.npy"},
      {"rows_rgb16_strips.tif", "rows_rgb16_as_rgb.npy"},
      {"rgb.jpg", ""},  // "": read_image's pixels, which JPEG's loss leaves as the only truth
      {"rows_rgb.jpg", "rows_rgb_jpg_by_pil.npy"},  // PIL decodes with libjpeg-turbo too
      {"rows_gray.jpg", "rows_gray_jpg_by_pil.npy"},
      {"rows_cmyk.jpg", ""},
      {"rows_progressive.jpg", ""},  // read whole when opened
  };
  for (const auto& [name, npy] : expected) {
    SCOPED_TRACE(name);
    const std::string path = fixture("images/" + name);
    const at::Tensor truth = npy.empty() ? read_image(path).pixels : read_npy(fixture("images/" + npy));
    ImageRows image(path);
    ASSERT_EQ(image.height(), truth.size(0));
    ASSERT_EQ(image.width(), truth.size(1));
    std::vector<at::Tensor> bands;
    for (const int64_t count : {7, 1, 50, 33, 1000}) bands.push_back(image.read(count));
    EXPECT_EQ(image.read(5).size(0), 0) << "nothing past the bottom";
    EXPECT_TRUE(at::cat(bands).equal(truth));
    // Gray files read in bands are held as one channel (a third of the memory of a wide slide).
    const bool gray = name.find("gray") != std::string::npos;
    EXPECT_EQ(bands[0].stride(2) == 0, gray) << "one channel, viewed three times";
    if (npy.empty()) continue;
    EXPECT_TRUE(read_image(path).pixels.equal(truth)) << "read_image agrees";
  }
}

// A file found truncated or corrupt midway is an error naming it; a band wider than
// --max-pixels allows is refused before it is decoded.
TEST(ImageRows, TruncatedFilesAndOversizedBandsAreErrors) {
  const std::string dir = temp_dir("image_rows");
  for (const char* name : {"rows_rgb.png", "rows_rgb_tiles.tif", "rows_rgb_strips.tif", "rows_gray16_tiles_bigtiff.tif",
                           "rows_rgb16_strips.tif", "rows_rgb.jpg"}) {
    const std::string bytes = read_file(fixture(std::string("images/") + name));
    const std::string cut = dir + "/cut_" + name;
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() * 6 / 10);
    try {
      ImageRows image(cut);
      while (image.read(16).size(0) > 0) {
      }
      ADD_FAILURE() << "no error for " << cut;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(cut), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    }
  }
  // A named pipe is refused at once (opening it to read would wait for a writer), as read_image refuses it.
  ASSERT_EQ(::mkfifo((dir + "/pipe.png").c_str(), 0600), 0);
  try {
    ImageRows pipe(dir + "/pipe.png");
    ADD_FAILURE() << "no error for a FIFO";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("is a FIFO (named pipe), not a regular file"), std::string::npos) << e.what();
  }
  // Formats read in bands open under a cap the whole image is over (16-bit TIFF included).
  for (const char* name : {"rows_rgb.png", "rows_rgb_tiles.tif", "rows_gray16_tiles_bigtiff.tif",
                           "rows_rgb16_strips.tif", "rows_rgb.jpg"}) {
    ImageRows capped(fixture(std::string("images/") + name), /*max_pixels=*/171 * 100);
    EXPECT_EQ(capped.read(64).size(0), 64) << name;
  }
  ImageRows narrow(fixture("images/rows_rgb.png"), /*max_pixels=*/171 * 100);
  EXPECT_EQ(narrow.read(64).size(0), 64);
  try {
    narrow.read(150);
    ADD_FAILURE() << "no error for a band over --max-pixels";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("rows of 171 pixels is more than --max-pixels"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

// segkit's own PNG writer (libdeflate), read back by libpng: 8-bit and 16-bit label maps, RGB,
// one pixel, and an RGB image whose stream spans several IDAT chunks.
TEST(Image, WrittenPngsReadBackAsWritten) {
  const std::string dir = temp_dir("labels");
  const at::Tensor labels = at::randint(0, 21, {13, 9}, at::kLong);
  write_label_png(labels, dir + "/mask.png");
  EXPECT_TRUE(read_image(dir + "/mask.png").pixels.select(2, 0).to(at::kLong).equal(labels));
  EXPECT_TRUE(read_label_image(dir + "/mask.png").equal(labels));
  const at::Tensor wide = at::randint(0, 65536, {7, 31}, at::kLong);
  write_label_png(wide, dir + "/wide.png");
  EXPECT_TRUE(read_label_image(dir + "/wide.png").equal(wide));
  write_label_png(at::full({1, 1}, 3, at::kLong), dir + "/one.png");
  EXPECT_TRUE(read_label_image(dir + "/one.png").equal(at::full({1, 1}, 3, at::kLong)));
  const at::Tensor noise = at::randint(0, 256, {611, 613, 3}).to(at::kByte);  // incompressible: 1.1 MB
  write_rgb_png(noise, dir + "/noise.png");
  EXPECT_TRUE(read_image(dir + "/noise.png").pixels.equal(noise));
  std::ifstream in(dir + "/noise.png", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t chunks = 0;
  for (size_t at = bytes.find("IDAT"); at != std::string::npos; at = bytes.find("IDAT", at + 4)) ++chunks;
  EXPECT_GE(chunks, 2u);
  const at::Tensor rgb = at::randint(0, 256, {1, 1, 3}).to(at::kByte);
  write_rgb_png(rgb, dir + "/rgb1.png");
  EXPECT_TRUE(read_image(dir + "/rgb1.png").pixels.equal(rgb));
}

// Label maps and RGB written in bands of rows: what read_label_image and read_image give back,
// 16-bit where labels pass 255; an unfinished file leaves nothing behind.
TEST(StreamingPng, BandsOfRowsReadBackAsWritten) {
  const std::string dir = temp_dir("streaming_png");
  const at::Tensor wide = at::randint(0, 1000, {23, 17}, at::kLong);
  const at::Tensor narrow = at::randint(0, 256, {23, 17}, at::kLong);
  const at::Tensor rgb = at::randint(0, 256, {23, 17, 3}, at::kByte);
  {
    StreamingPng w16(dir + "/wide.png", 23, 17, 1, 16), w8(dir + "/narrow.png", 23, 17),
        w3(dir + "/rgb.png", 23, 17, 3);
    for (int64_t r = 0; r < 23; r += 7) {
      w16.write_rows(wide.slice(0, r, r + 7));
      w8.write_rows(narrow.slice(0, r, r + 7));
      w3.write_rows(rgb.slice(0, r, r + 7));
    }
    w16.finish();
    w8.finish();
    w3.finish();
  }
  EXPECT_TRUE(read_label_image(dir + "/wide.png").equal(wide));
  EXPECT_TRUE(read_label_image(dir + "/narrow.png").equal(narrow));
  EXPECT_TRUE(read_image(dir + "/rgb.png").pixels.equal(rgb));
  {
    StreamingPng unfinished(dir + "/unfinished.png", 23, 17);
    unfinished.write_rows(narrow.slice(0, 0, 7));
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/unfinished.png"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 3) << "no temporary left";
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

// The blend is image * (1 - alpha) + colour * alpha in float32, rounded half to even: the same
// bytes as that tensor expression for any labels (out of range: clamped), alpha, RGB or RGBA.
TEST(Overlay, IsTheFloatBlendRoundedBitForBit) {
  at::manual_seed(9);
  const at::Tensor image = at::randint(256, {23, 31, 3}).to(at::kByte);
  const at::Tensor labels = at::randint(-2, 24, {23, 31}).to(at::kLong);
  at::Tensor rgba = at::randint(256, {21, 4}).to(at::kByte);
  rgba.select(1, 3).slice(0, 0, 21, 3).fill_(0);  // every third class bare
  for (const at::Tensor& palette : {rgba.slice(1, 0, 3), rgba}) {
    for (double alpha : {0.0, 0.3, 0.5, 0.77, 1.0}) {
      const at::Tensor index = labels.clamp(0, 20).flatten();
      const at::Tensor rgb = palette.slice(1, 0, 3).index_select(0, index).view({23, 31, 3});
      at::Tensor expected = (image.to(at::kFloat) * (1.0 - alpha) + rgb.to(at::kFloat) * alpha).round().to(at::kByte);
      if (palette.size(1) == 4) {
        expected = at::where(palette.select(1, 3).index_select(0, index).ne(0).view({23, 31, 1}), expected, image);
      }
      EXPECT_TRUE(overlay(image, labels, palette, alpha).equal(expected)) << palette.sizes() << " alpha " << alpha;
      EXPECT_TRUE(overlay(image, labels.to(at::kInt), palette, alpha).equal(expected)) << "int32 labels";
    }
  }
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
