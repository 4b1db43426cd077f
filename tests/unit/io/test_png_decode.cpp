// segkit's reader of common PNGs (src/io/png_decode.h) against the pixels that were encoded and
// against libpng's reading of the same file (through OpenCV): every filter type, every colour
// type it takes, image data split over many chunks; damaged files go to libpng and its error.
#include <gtest/gtest.h>
#include <libdeflate.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <vector>

#include "../../../src/io/png_decode.h"
#include "../../../src/io/png_encode.h"
#include "segkit/core/errors.h"
#include "segkit/io/image.h"
#include "test_util.h"

namespace segkit {
namespace {

using testing::temp_dir;

void put_chunk(std::string& out, const char* type, const std::string& data) {
  append_png_chunk(out, type, data.data(), data.size());
}

int paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

struct PngSpec {
  int height, width, channels;
  std::function<int(int)> filter_of_row;  // 0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth
  size_t piece = 1 << 20;                 // bytes of compressed data per IDAT chunk
};

// A PNG of `pixels` (rows of width x channels bytes) written as the specification says, each
// row filtered as asked, with text chunks before and after the image data.
std::string make_png(const std::vector<uint8_t>& pixels, const PngSpec& spec) {
  const size_t row = static_cast<size_t>(spec.width * spec.channels);
  std::string filtered;
  for (int y = 0; y < spec.height; ++y) {
    const int type = spec.filter_of_row(y);
    filtered.push_back(static_cast<char>(type));
    const uint8_t* raw = pixels.data() + y * row;
    const uint8_t* up = y > 0 ? raw - row : nullptr;
    for (size_t i = 0; i < row; ++i) {
      const int bpp = spec.channels, a = i >= static_cast<size_t>(bpp) ? raw[i - bpp] : 0, b = up ? up[i] : 0;
      const int c = up && i >= static_cast<size_t>(bpp) ? up[i - bpp] : 0;
      const int predicted = type == 0 ? 0 : type == 1 ? a : type == 2 ? b : type == 3 ? (a + b) / 2 : paeth(a, b, c);
      filtered.push_back(static_cast<char>(raw[i] - predicted));
    }
  }
  libdeflate_compressor* compressor = libdeflate_alloc_compressor(6);
  std::string stream(libdeflate_zlib_compress_bound(compressor, filtered.size()), '\0');
  stream.resize(libdeflate_zlib_compress(compressor, filtered.data(), filtered.size(), stream.data(), stream.size()));
  libdeflate_free_compressor(compressor);

  std::string png("\x89PNG\r\n\x1a\n", 8), header;
  append_be32(header, static_cast<uint32_t>(spec.width));
  append_be32(header, static_cast<uint32_t>(spec.height));
  const int colour_type[] = {0, 0, 4, 2, 6};
  header += std::string{8, static_cast<char>(colour_type[spec.channels]), 0, 0, 0};
  put_chunk(png, "IHDR", header);
  put_chunk(png, "tEXt", std::string("Software\0test", 13));
  for (size_t at = 0; at < stream.size(); at += spec.piece) put_chunk(png, "IDAT", stream.substr(at, spec.piece));
  put_chunk(png, "tEXt", std::string("Comment\0after", 13));
  put_chunk(png, "IEND", "");
  return png;
}

// What read_image gives for those pixels: gray repeated, alpha dropped.
at::Tensor as_rgb(const std::vector<uint8_t>& pixels, const PngSpec& spec) {
  at::Tensor rgb = at::empty({spec.height, spec.width, 3}, at::kByte);
  uint8_t* out = rgb.data_ptr<uint8_t>();
  for (size_t p = 0; p < static_cast<size_t>(spec.height * spec.width); ++p) {
    const uint8_t* in = pixels.data() + p * spec.channels;
    for (int k = 0; k < 3; ++k) out[p * 3 + k] = in[spec.channels >= 3 ? k : 0];
  }
  return rgb;
}

at::Tensor read_by_libpng(const std::string& path) {
  cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR), rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return at::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, at::kByte).clone();
}

std::string write(const std::string& bytes, const std::string& path) {
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(PngDecode, EveryFilterAndColourTypeAsEncodedAndAsLibpng) {
  const std::string dir = temp_dir("png_decode");
  std::mt19937 random(7);
  const std::vector<std::pair<int, int>> sizes = {{1, 1}, {2, 3}, {17, 31}, {64, 257}};
  const std::vector<std::function<int(int)>> schedules = {[](int y) { return y % 5; }, [](int) { return 4; },
                                                          [](int) { return 3; }, [](int y) { return (y * 7 + 3) % 5; }};
  int files = 0;
  for (const auto& [height, width] : sizes) {
    for (int channels = 1; channels <= 4; ++channels) {
      for (size_t s = 0; s < schedules.size(); ++s) {
        // Noise in one half of the rows, smooth gradients in the other: both kinds of data.
        std::vector<uint8_t> pixels(static_cast<size_t>(height * width * channels));
        for (size_t i = 0; i < pixels.size(); ++i) {
          const size_t y = i / (width * channels);
          pixels[i] = static_cast<uint8_t>(y % 2 ? random() : (i * 3 + y * 5) / 2);
        }
        const PngSpec spec{height, width, channels, schedules[s], s % 2 ? size_t{7} : size_t{1} << 20};
        const std::string bytes = make_png(pixels, spec);
        at::Tensor fast;
        const bool taken = decode_common_png(bytes, int64_t{1} << 30, [&](int64_t h, int64_t w) {
          fast = at::empty({h, w, 3}, at::kByte);
          return fast.data_ptr<uint8_t>();
        });
        const std::string name = std::to_string(height) + "x" + std::to_string(width) + "x" + std::to_string(channels) +
                                 " schedule " + std::to_string(s);
        ASSERT_TRUE(taken) << name;
        EXPECT_TRUE(fast.equal(as_rgb(pixels, spec))) << name << ": the pixels encoded";
        const std::string path = write(bytes, dir + "/" + std::to_string(files++) + ".png");
        EXPECT_TRUE(fast.equal(read_by_libpng(path))) << name << ": libpng's pixels";
        EXPECT_TRUE(read_image(path).pixels.equal(fast)) << name << ": read_image";
      }
    }
  }
}

TEST(PngDecode, OtherPngsAndDamagedOnesGoToLibpng) {
  const std::string dir = temp_dir("png_decode_other");
  const auto never = [](int64_t, int64_t) -> unsigned char* {
    ADD_FAILURE() << "decoded";
    static unsigned char sink[1 << 16];
    return sink;
  };
  std::vector<uint8_t> pixels(24 * 20 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
  const PngSpec spec{24, 20, 3, [](int y) { return y % 5; }, 64};
  const std::string good = make_png(pixels, spec);
  ASSERT_TRUE(decode_common_png(good, 24 * 20, [&](int64_t h, int64_t w) {
    static std::vector<unsigned char> out;
    out.resize(static_cast<size_t>(h * w * 3));
    return out.data();
  }));
  EXPECT_FALSE(decode_common_png(good, 24 * 20 - 1, never)) << "over the pixel cap: decode_image's error";

  // 16 bits, a palette, interlaced: libpng reads them (OpenCV writes the first).
  cv::Mat wide(5, 6, CV_16UC3, cv::Scalar(1000, 2000, 60000));
  std::vector<uchar> encoded;
  cv::imencode(".png", wide, encoded);
  EXPECT_FALSE(decode_common_png(std::string(encoded.begin(), encoded.end()), 1 << 20, never)) << "16-bit";
  std::string interlaced = good;
  interlaced[8 + 8 + 12] = 1;  // the interlace method, and the header's checksum to match
  std::string checksum;
  append_be32(checksum, libdeflate_crc32(0, interlaced.data() + 12, 17));
  interlaced.replace(8 + 8 + 13, 4, checksum);
  EXPECT_FALSE(decode_common_png(interlaced, 1 << 20, never)) << "interlaced";

  // Damage: each file refused by this reader and by libpng, with an error naming it.
  const size_t data = good.find("IDAT") + 4;
  std::string flipped = good, cut = good.substr(0, good.size() * 7 / 10);
  flipped[data + 20] ^= 0x40;  // a checksum no longer matches
  const std::string bad_filter = make_png(pixels, PngSpec{24, 20, 3, [](int y) { return y == 9 ? 5 : 0; }, 64});
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"flipped.png", flipped}, {"bad_filter.png", bad_filter}, {"cut.png", cut}}) {
    EXPECT_FALSE(decode_common_png(bytes, 1 << 20, never)) << name;
    const std::string path = write(bytes, dir + "/" + name);
    try {
      read_image(path);
      ADD_FAILURE() << name << " was read";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(path + ": corrupt"), std::string::npos) << e.what();
    }
  }
  // Image data in two runs, a chunk between them: libpng's to judge (it reads the first run).
  std::string two_runs = good;
  two_runs.insert(good.find("IEND") - 4, good.substr(good.find("IDAT") - 4, 12 + 64));
  EXPECT_FALSE(decode_common_png(two_runs, 1 << 20, never));
  EXPECT_TRUE(read_image(write(two_runs, dir + "/two_runs.png")).pixels.equal(as_rgb(pixels, spec)));
}

}  // namespace
}  // namespace segkit
