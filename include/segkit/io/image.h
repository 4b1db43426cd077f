#pragma once

// Image files in and out. The io folder is the one place that talks to OpenCV and the image
// codecs (libpng, libjpeg, libtiff: image_decode.cpp); the rest of segkit sees images as tensors.

#include <ATen/Tensor.h>

#include <memory>
#include <string>
#include <vector>

namespace segkit {

enum class Interpolation { kBilinear, kBicubic };

/// An 8-bit RGB image as an H x W x 3 uint8 tensor (contiguous, CPU).
struct Image {
  at::Tensor pixels;
  std::string path;
  int64_t height() const { return pixels.size(0); }
  int64_t width() const { return pixels.size(1); }
};

/// The default cap on an image's pixels (--max-pixels): 100 megapixels.
constexpr int64_t kDefaultMaxPixels = 100'000'000;

/// Reads PNG, JPEG, BMP or TIFF; gray, RGB or RGBA, 8 or 16 bits; returns RGB.
/// The dimensions are read from the header first: an image of more than `max_pixels`
/// (which must be positive) is refused before any pixel is decoded. Throws InputError
/// naming the file if it is missing, not an image, truncated, corrupt or too large; the
/// codecs print nothing themselves.
Image read_image(const std::string& path, int64_t max_pixels = kDefaultMaxPixels);

class RowDecoder;  // src/io/image_decode.h

/// An image read from the top in bands of rows, so that an image of any size is never held
/// whole: PNG (not interlaced) row by row through libpng, baseline JPEG (aerial and satellite
/// mosaics) row by row through libjpeg, 8-bit and 16-bit gray or RGB TIFF (stripped or tiled,
/// classic or BigTIFF, as microscopy and pathology slides come) a band of strips or tiles at a
/// time through libtiff. Other files (progressive JPEG, BMP, interlaced PNG, other TIFF) are
/// read whole when opened, as read_image reads them. The pixels are read_image's.
class ImageRows {
 public:
  /// Opens `path`. `max_pixels` caps what is held at once: the whole image where it is read
  /// whole, else a band of rows. Throws InputError naming the file.
  explicit ImageRows(const std::string& path, int64_t max_pixels = kDefaultMaxPixels);
  /// An image already in memory.
  explicit ImageRows(Image image);
  ~ImageRows();
  ImageRows(const ImageRows&) = delete;
  ImageRows& operator=(const ImageRows&) = delete;

  int64_t height() const { return height_; }
  int64_t width() const { return width_; }
  const std::string& path() const { return path_; }
  /// The next `count` rows (fewer at the bottom) as count x W x 3 uint8 (gray images read in
  /// bands: a view of one channel, stride 0 across the three); throws InputError naming the
  /// file if it turns out corrupt or truncated there.
  at::Tensor read(int64_t count);

 private:
  int64_t buffered_rows() const;

  std::string path_;
  int64_t max_pixels_ = kDefaultMaxPixels;
  int64_t height_ = 0, width_ = 0;
  int64_t next_ = 0;                     // rows handed out
  int64_t decoded_ = 0;                  // rows decoded from the file
  std::unique_ptr<RowDecoder> decoder_;  // null: read whole
  at::Tensor whole_;                     // the pixels, where read whole
  at::Tensor buffer_;                    // rows decoded, not yet handed out
};

/// True for the file extensions read_image understands.
bool is_image_file(const std::string& path);

/// The images of a folder, sorted: files whose extension is an image format's (those
/// read_image understands, and GIF, WebP, PPM/PGM, which it then names as unreadable).
/// Other files (notes, lists, hidden files) are appended to `skipped`; subfolders are left out.
std::vector<std::string> list_image_files(const std::string& dir, std::vector<std::string>& skipped);

/// One line on stderr, "segkit: skipped 2 files that are not images in DIR (a.txt, b.csv)";
/// nothing when `skipped` is empty.
void report_skipped_files(const std::string& where, const std::vector<std::string>& skipped);

/// Resizes an H x W x 3 uint8 image: area averaging when shrinking, bilinear (or bicubic)
/// when enlarging.
at::Tensor resize_image(const at::Tensor& pixels, int64_t height, int64_t width,
                        Interpolation interpolation = Interpolation::kBilinear);

/// Writes an H x W uint8 or int16/int32/int64 label map (values < 65536) as PNG, atomically.
void write_label_png(const at::Tensor& labels, const std::string& path);

/// Writes an H x W x 3 uint8 RGB image as PNG, atomically.
void write_rgb_png(const at::Tensor& pixels, const std::string& path);

/// The bytes of an H x W x 3 uint8 RGB image as a PNG file.
std::string encode_rgb_png(const at::Tensor& pixels);

}  // namespace segkit
