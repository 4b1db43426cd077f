#include "png_decode.h"

#include <libdeflate.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace segkit {
namespace {

// libpng's limits as Debian builds it (pnglibconf.h): PNG_USER_WIDTH_MAX and HEIGHT_MAX, and
// PNG_USER_CHUNK_MALLOC_MAX for a chunk's data. Files past them are libpng's to refuse.
constexpr int64_t kLibpngMaxSide = 1000000;
constexpr size_t kLibpngMaxChunk = 8000000;

bool is_letter(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// The predictor of the Paeth filter (PNG specification 9.4): of the left, upper and upper-left
// bytes, the one closest to left + upper - upper-left, in that order on ties.
// Written as libpng's C version, without branches.
inline int paeth(int a, int b, int c) {
  const int p = b - c, q = a - c;
  int pa = std::abs(p);
  const int pb = std::abs(q), pc = std::abs(p + q);
  if (pb < pa) pa = pb, a = b;
  return pc < pa ? c : a;
}

// Undoes one row's filter in place: `row` is `bytes` long, `up` the row above unfiltered
// (nullptr for the first: zeros), `Bpp` bytes per pixel. False for an unknown filter type.
template <int Bpp>
bool unfilter(uint8_t type, uint8_t* row, const uint8_t* up, size_t bytes) {
  switch (type) {
    case 0: return true;
    case 1:
      for (size_t i = Bpp; i < bytes; ++i) row[i] = static_cast<uint8_t>(row[i] + row[i - Bpp]);
      return true;
    case 2:
      if (up != nullptr) {
        for (size_t i = 0; i < bytes; ++i) row[i] = static_cast<uint8_t>(row[i] + up[i]);
      }
      return true;
    case 3:
      for (size_t i = 0; i < bytes; ++i) {
        const int left = i >= Bpp ? row[i - Bpp] : 0, above = up != nullptr ? up[i] : 0;
        row[i] = static_cast<uint8_t>(row[i] + ((left + above) >> 1));
      }
      return true;
    case 4:
      if (up == nullptr) return unfilter<Bpp>(1, row, up, bytes);  // Paeth of (left, 0, 0) is left
      {
        // Each byte of a pixel a chain of its own, its left neighbour held in a register rather
        // than read back from the row just written.
        int left[Bpp];
        for (int k = 0; k < Bpp; ++k) left[k] = row[k] = static_cast<uint8_t>(row[k] + up[k]);
        for (size_t i = Bpp; i < bytes; i += Bpp) {
          for (int k = 0; k < Bpp; ++k) {
            left[k] = row[i + k] = static_cast<uint8_t>(row[i + k] + paeth(left[k], up[i + k], up[i + k - Bpp]));
          }
        }
        return true;
      }
    default: return false;
  }
}

template <int Bpp>
bool unfilter_all(uint8_t* raw, int64_t height, size_t bytes) {
  const uint8_t* up = nullptr;
  for (int64_t y = 0; y < height; ++y) {
    uint8_t* line = raw + static_cast<size_t>(y) * (bytes + 1);
    if (!unfilter<Bpp>(line[0], line + 1, up, bytes)) return false;
    up = line + 1;
  }
  return true;
}

}  // namespace

bool decode_common_png(const std::string& bytes, int64_t max_pixels,
                       const std::function<unsigned char*(int64_t height, int64_t width)>& allocate) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t size = bytes.size();
  if (size < 8 + 25 || std::memcmp(data, kSignature, 8) != 0) return false;
  const uint8_t* ihdr = data + 8;
  if (read_be32(ihdr) != 13 || std::memcmp(ihdr + 4, "IHDR", 4) != 0 ||
      libdeflate_crc32(0, ihdr + 4, 17) != read_be32(ihdr + 21)) {
    return false;
  }
  const int64_t width = read_be32(ihdr + 8), height = read_be32(ihdr + 12);
  const int depth = ihdr[16], colour = ihdr[17];
  const int channels = colour == 0 ? 1 : colour == 2 ? 3 : colour == 4 ? 2 : colour == 6 ? 4 : 0;
  if (width <= 0 || height <= 0 || width > kLibpngMaxSide || height > kLibpngMaxSide || width > max_pixels / height ||
      depth != 8 || channels == 0 || ihdr[18] != 0 || ihdr[19] != 0 || ihdr[20] != 0) {
    return false;  // 16 bits or fewer than 8, a palette, interlaced, an unknown method, or too large
  }
  // The longest IDAT chunk libpng takes (png_check_chunk_length): the image's bytes and
  // zlib's overhead, or its cap on other chunks where that is more.
  const size_t row_bytes = static_cast<size_t>(width) * static_cast<size_t>(channels);
  const size_t raw_bytes = static_cast<size_t>(height) * (row_bytes + 1);  // each row after its filter type
  const size_t longest_data =
      std::max(kLibpngMaxChunk, raw_bytes + 6 + 5 * (raw_bytes / std::min<size_t>(row_bytes + 1, 32566) + 1));

  // The chunks up to IEND: the image data's pieces, each checksum of the critical ones. Any
  // other critical chunk than a colour type's optional palette is libpng's to refuse.
  std::vector<std::pair<const uint8_t*, size_t>> pieces;
  size_t compressed = 0;
  bool ended = false, after_data = false, palette = false;
  for (size_t pos = 8 + 25; !ended;) {
    if (size - pos < 12) return false;
    const size_t length = read_be32(data + pos);
    const uint8_t* type = data + pos + 4;
    if (length > INT32_MAX || size - pos - 12 < length) return false;
    if (!is_letter(type[0]) || !is_letter(type[1]) || !is_letter(type[2]) || !is_letter(type[3])) return false;
    const bool critical = (type[0] & 0x20) == 0;
    if (critical && libdeflate_crc32(0, type, length + 4) != read_be32(type + 4 + length)) return false;
    if (std::memcmp(type, "IDAT", 4) == 0) {
      if (after_data || length > longest_data) return false;  // image data in two runs, or too long a chunk
      pieces.emplace_back(type + 4, length);
      compressed += length;
    } else {
      after_data = after_data || !pieces.empty();
      if (length > kLibpngMaxChunk) return false;
      if (std::memcmp(type, "IEND", 4) == 0) {
        ended = true;
      } else if (std::memcmp(type, "PLTE", 4) == 0) {
        if (palette || after_data || channels < 3) return false;  // a second, a late or a gray image's palette
        palette = true;
      } else if (critical) {
        return false;
      }
    }
    pos += 12 + length;
  }
  if (pieces.empty()) return false;

  std::vector<uint8_t> joined;
  const uint8_t* stream = pieces[0].first;
  if (pieces.size() > 1) {
    joined.resize(compressed);
    size_t at = 0;
    for (const auto& [piece, length] : pieces) {
      std::memcpy(joined.data() + at, piece, length);
      at += length;
    }
    stream = joined.data();
  }
  const std::unique_ptr<uint8_t[]> raw(new uint8_t[raw_bytes]);
  const std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> inflater(
      libdeflate_alloc_decompressor(), libdeflate_free_decompressor);
  size_t produced = 0;
  if (!inflater ||
      libdeflate_zlib_decompress(inflater.get(), stream, compressed, raw.get(), raw_bytes, &produced) !=
          LIBDEFLATE_SUCCESS ||
      produced != raw_bytes) {
    return false;
  }
  const bool unfiltered = channels == 1   ? unfilter_all<1>(raw.get(), height, row_bytes)
                          : channels == 2 ? unfilter_all<2>(raw.get(), height, row_bytes)
                          : channels == 3 ? unfilter_all<3>(raw.get(), height, row_bytes)
                                          : unfilter_all<4>(raw.get(), height, row_bytes);
  if (!unfiltered) return false;

  unsigned char* rgb = allocate(height, width);
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* in = raw.get() + static_cast<size_t>(y) * (row_bytes + 1) + 1;
    unsigned char* out = rgb + static_cast<size_t>(y) * static_cast<size_t>(width) * 3;
    if (channels == 3) {
      std::memcpy(out, in, row_bytes);
      continue;
    }
    for (int64_t x = 0; x < width; ++x, out += 3, in += channels) {
      out[0] = in[0];
      out[1] = channels >= 3 ? in[1] : in[0];
      out[2] = channels >= 3 ? in[2] : in[0];
    }
  }
  return true;
}

}  // namespace segkit
