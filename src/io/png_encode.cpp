#include "png_encode.h"

#include <libdeflate.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

namespace segkit {
namespace {

// Deflate fast enough at level 1 that a higher one costs more than the bytes it saves.
constexpr int kLevel = 1;
// IDAT chunks of at most this many bytes (any size below 2^31 is valid; readers stream them).
constexpr size_t kChunkBytes = size_t{1} << 20;

}  // namespace

void append_be32(std::string& out, uint32_t v) {
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                         static_cast<char>(v)};
  out.append(bytes, 4);
}

void append_png_chunk(std::string& out, const char type[4], const void* data, size_t size) {
  append_be32(out, static_cast<uint32_t>(size));
  const size_t start = out.size();
  out.append(type, 4);
  if (size > 0) out.append(static_cast<const char*>(data), size);
  append_be32(out, libdeflate_crc32(0, out.data() + start, size + 4));
}

std::string encode_png(const void* pixels, int64_t height, int64_t width, int channels, int bit_depth) {
  if (height <= 0 || width <= 0 || height > INT32_MAX || width > INT32_MAX || (channels != 1 && channels != 3) ||
      (bit_depth != 8 && bit_depth != 16) || (bit_depth == 16 && channels != 1)) {
    throw std::invalid_argument(
        "encode_png: a PNG is 1 to 2^31 - 1 rows and columns of 8-bit gray or RGB, or 16-bit gray");
  }
  const size_t row = static_cast<size_t>(width) * static_cast<size_t>(channels) * static_cast<size_t>(bit_depth / 8);
  const auto* src = static_cast<const uint8_t*>(pixels);
  // Each row as its filter type (2: Up) and its bytes less the bytes above it (16-bit samples
  // big-endian, as PNG stores them).
  std::vector<uint8_t> filtered(static_cast<size_t>(height) * (row + 1));
  std::vector<uint8_t> swapped[2];
  if (bit_depth == 16) swapped[0].resize(row), swapped[1].resize(row);
  const uint8_t* up = nullptr;
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* bytes = src + static_cast<size_t>(y) * row;
    if (bit_depth == 16) {
      uint8_t* be = swapped[y % 2].data();
      for (size_t i = 0; i < row; i += 2) {
        uint16_t v;
        std::memcpy(&v, bytes + i, 2);
        be[i] = static_cast<uint8_t>(v >> 8);
        be[i + 1] = static_cast<uint8_t>(v);
      }
      bytes = be;
    }
    uint8_t* out = filtered.data() + static_cast<size_t>(y) * (row + 1);
    out[0] = 2;
    if (up == nullptr) {
      std::memcpy(out + 1, bytes, row);
    } else {
      for (size_t i = 0; i < row; ++i) out[1 + i] = static_cast<uint8_t>(bytes[i] - up[i]);
    }
    up = bytes;
  }

  const std::unique_ptr<libdeflate_compressor, void (*)(libdeflate_compressor*)> compressor(
      libdeflate_alloc_compressor(kLevel), libdeflate_free_compressor);
  if (!compressor) throw std::bad_alloc();
  std::vector<uint8_t> stream(libdeflate_zlib_compress_bound(compressor.get(), filtered.size()));
  const size_t compressed =
      libdeflate_zlib_compress(compressor.get(), filtered.data(), filtered.size(), stream.data(), stream.size());
  if (compressed == 0) throw std::runtime_error("encode_png: the compressed stream outgrew its bound");

  std::string png;
  png.reserve(compressed + 64 + 12 * (compressed / kChunkBytes + 1));
  png.append("\x89PNG\r\n\x1a\n", 8);
  std::string header;
  append_be32(header, static_cast<uint32_t>(width));
  append_be32(header, static_cast<uint32_t>(height));
  // Bit depth; colour type RGB or gray; compression, filter and interlace methods 0.
  header += {static_cast<char>(bit_depth), static_cast<char>(channels == 3 ? 2 : 0), 0, 0, 0};
  append_png_chunk(png, "IHDR", header.data(), header.size());
  for (size_t at = 0; at < compressed; at += kChunkBytes) {
    append_png_chunk(png, "IDAT", stream.data() + at, std::min(kChunkBytes, compressed - at));
  }
  append_png_chunk(png, "IEND", nullptr, 0);
  return png;
}

}  // namespace segkit
