#pragma once

// Image files' bytes to pixels, header first: the format's own library (libpng, libjpeg,
// libtiff; a BMP header is 26 bytes read by hand) reads the dimensions before any pixel is
// decoded, so the pixel cap refuses a decompression bomb in milliseconds. PNG and JPEG are
// decoded by their libraries, every warning that means lost pixels (a truncated or corrupt
// file) an error; BMP and TIFF by OpenCV. No codec prints: their messages end up in the
// one InputError a failure throws. Internal to src/io.

#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <string>

namespace segkit {

/// What the pixels are for: kColour gives OpenCV's IMREAD_UNCHANGED layout (gray, BGR or
/// BGRA; 8 or 16 bits). kLabels differs in one thing: a palette PNG gives its indices
/// (as PIL does), not the palette's colours.
enum class PixelMode { kColour, kLabels };

/// Decodes after checking the header against `max_pixels` (the message names --max-pixels).
/// Throws InputError naming `path` for a file that is no PNG, JPEG, BMP or TIFF, or one that
/// is corrupt, truncated or too large. `what` is "image" or "label image", for messages.
cv::Mat decode_image(const std::string& bytes, const std::string& path, int64_t max_pixels, PixelMode mode,
                     const char* what);

}  // namespace segkit
