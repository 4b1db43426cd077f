#pragma once

// The PNGs most files are, read without libpng: 8 bits per sample, not interlaced, gray, gray
// and alpha, RGB or RGBA. libpng inflates through zlib, at less than half libdeflate's speed:
// a 480 x 360 CamVid frame decodes in about 1.5 ms here against 3.7 ms. Every other PNG, and
// any this reader finds damaged, goes to libpng, which reads it or says what is wrong with it.
// Internal to src/io.

#include <cstdint>
#include <functional>
#include <string>

namespace segkit {

/// The big-endian 32-bit integer at `p`, as PNG stores its lengths and sizes.
inline uint32_t read_be32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 |
         p[3];
}

/// Decodes such a PNG in `bytes` to RGB (gray repeated, alpha dropped: what libpng's pixels
/// become in read_image) into the H x W x 3 rows `allocate(height, width)` returns, and returns
/// true. Returns false for any other PNG, one over `max_pixels`, and one whose chunks, checksums,
/// compressed data or filters are damaged; `allocate` may have been called then, and what it
/// returned holds nothing of use.
bool decode_common_png(const std::string& bytes, int64_t max_pixels,
                       const std::function<unsigned char*(int64_t height, int64_t width)>& allocate);

}  // namespace segkit
