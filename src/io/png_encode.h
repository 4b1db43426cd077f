#pragma once

// PNG files encoded whole in memory: every row filtered with PNG's Up filter and the stream
// compressed by libdeflate at its fastest level. libpng can only compress through zlib, which
// took twice as long for an overlay (5.8 ms against 2.9 ms for a 480 x 360 CamVid image, and a
// file 3% larger): a quarter of `predict`'s own work per image beside a fast network. The
// container is a few chunks (IHDR, IDAT, IEND) with their CRCs. Rows written as they come (tiled
// prediction's StreamingPng) stay with libpng. Internal to src/io.

#include <cstdint>
#include <string>

namespace segkit {

/// The bytes of a PNG of `height` rows of `width` pixels, `channels` 1 (gray) or 3 (RGB) samples
/// each, `bit_depth` 8 or 16 (gray only); `pixels` holds the rows one after another, 16-bit
/// samples in this machine's byte order.
std::string encode_png(const void* pixels, int64_t height, int64_t width, int channels, int bit_depth);

/// Appends `v` big-endian, as PNG stores its integers.
void append_be32(std::string& out, uint32_t v);

/// Appends a PNG chunk: the length of `data`, `type`, `data` and the CRC of type and data.
void append_png_chunk(std::string& out, const char type[4], const void* data, size_t size);

}  // namespace segkit
