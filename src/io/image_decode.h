#pragma once

// Image files' bytes to pixels, header first: the format's own library (libpng, libjpeg,
// libtiff; a BMP header is 26 bytes read by hand) reads the dimensions before any pixel is
// decoded, so the pixel cap refuses a decompression bomb in milliseconds. PNG and JPEG are
// decoded by their libraries, every warning that means lost pixels (a truncated or corrupt
// file) an error; BMP and TIFF by OpenCV. No codec prints: their messages end up in the
// one InputError a failure throws. Internal to src/io.

#include <cstdint>
#include <memory>
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

/// An image file decoded from the top in bands of rows, never held whole: PNG (not
/// interlaced) through libpng's row reader, baseline JPEG through libjpeg's, TIFF (stripped or
/// tiled, classic or BigTIFF; 8-bit through libtiff's RGBA reader, 16-bit gray or RGB as
/// stored) a band of strips or tiles at a time. Bands come in decode_image's kColour layout.
class RowDecoder {
 public:
  virtual ~RowDecoder() = default;
  virtual int64_t height() const = 0;
  virtual int64_t width() const = 0;
  /// The rows the file stores together (a strip's or a tile's): reads are best in multiples.
  virtual int64_t block_rows() const = 0;
  /// The next `count` rows; throws InputError naming the file for a corrupt or truncated one.
  virtual cv::Mat read(int64_t count) = 0;
};

/// A row decoder for `path`, or nullptr where it is read whole instead (no such file: read
/// whole, the error names it; a progressive JPEG, BMP, an interlaced PNG, a TIFF of another
/// depth or layout). Throws InputError for a PNG, JPEG or TIFF whose header is corrupt.
std::unique_ptr<RowDecoder> open_row_decoder(const std::string& path);

}  // namespace segkit
