#include "segkit/io/image.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "image_decode.h"
#include "mat_tensor.h"
#include "png_decode.h"
#include "png_encode.h"
#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"

namespace segkit {
namespace {

cv::Mat to_mat(const at::Tensor& pixels) {
  TORCH_CHECK(pixels.dim() == 3 && pixels.size(2) == 3 && pixels.scalar_type() == at::kByte,
              "expected an H x W x 3 uint8 image, got ", pixels.sizes());
  at::Tensor c = pixels.contiguous();
  return cv::Mat(static_cast<int>(c.size(0)), static_cast<int>(c.size(1)), CV_8UC3, c.data_ptr()).clone();
}

}  // namespace

namespace {

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace

std::vector<std::string> list_image_files(const std::string& dir, std::vector<std::string>& skipped) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) fail(dir, ": no such folder");
  std::vector<std::string> images;
  for (const auto& item : std::filesystem::directory_iterator(dir, ec)) {
    if (item.is_directory(ec)) continue;
    const std::string path = item.path().string();
    const std::string ext = lower_extension(path);
    const bool unreadable_image = ext == ".gif" || ext == ".webp" || ext == ".ppm" || ext == ".pgm";
    if (item.path().filename().string()[0] != '.' && (is_image_file(path) || unreadable_image)) {
      images.push_back(path);
    } else {
      skipped.push_back(path);
    }
  }
  if (ec) fail(dir, ": cannot list folder (", ec.message(), ")");
  std::sort(images.begin(), images.end());
  return images;
}

void report_skipped_files(const std::string& where, const std::vector<std::string>& skipped) {
  if (skipped.empty()) return;
  std::vector<std::string> names;
  for (const auto& path : skipped) names.push_back(std::filesystem::path(path).filename().string());
  std::sort(names.begin(), names.end());
  std::string shown =
      join({names.begin(), names.begin() + static_cast<std::ptrdiff_t>(std::min<size_t>(3, names.size()))});
  if (names.size() > 3) shown += ", ...";
  std::cerr << "segkit: skipped " << names.size() << (names.size() == 1 ? " file" : " files")
            << " that are not images in " << where << " (" << shown << ")\n";
}

bool is_image_file(const std::string& path) {
  const std::string ext = lower_extension(path);
  for (const char* known : {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}) {
    if (ext == known) return true;
  }
  return false;
}

namespace {

// Decoded pixels (gray, BGR or BGRA; 8 or 16 bits, or float in [0, 1]) as 8 bits.
cv::Mat eight_bit(cv::Mat raw, const std::string& path) {
  if (raw.depth() == CV_16U)
    raw.convertTo(raw, CV_8U, 1.0 / 257.0);
  else if (raw.depth() == CV_32F || raw.depth() == CV_64F)
    raw.convertTo(raw, CV_8U, 255.0);
  else if (raw.depth() != CV_8U)
    fail(path, ": unsupported pixel depth");
  return raw;
}

// Decoded pixels in decode_image's kColour layout as RGB.
at::Tensor rgb_tensor(cv::Mat raw, const std::string& path) {
  raw = eight_bit(std::move(raw), path);
  cv::Mat rgb;
  switch (raw.channels()) {
    case 1: cv::cvtColor(raw, rgb, cv::COLOR_GRAY2RGB); break;
    case 3: cv::cvtColor(raw, rgb, cv::COLOR_BGR2RGB); break;
    case 4: cv::cvtColor(raw, rgb, cv::COLOR_BGRA2RGB); break;
    default: fail(path, ": unsupported channel count ", raw.channels());
  }
  return to_tensor(rgb);
}

// An 8-bit gray Mat as an owned H x W x 1 uint8 tensor.
at::Tensor gray_tensor(const cv::Mat& gray) {
  return at::from_blob(gray.data, {gray.rows, gray.cols, 1}, {static_cast<int64_t>(gray.step[0]), 1, 1}, at::kByte)
      .clone();
}

}  // namespace

Image read_image(const std::string& path, int64_t max_pixels) {
  const std::string bytes = read_file(path);
  at::Tensor rgb;
  const auto allocate = [&](int64_t height, int64_t width) {
    rgb = at::empty({height, width, 3}, at::kByte);
    return rgb.data_ptr<uint8_t>();
  };
  if (decode_common_png(bytes, max_pixels, allocate)) return {rgb, path};
  return {rgb_tensor(decode_image(bytes, path, max_pixels, PixelMode::kColour, "image"), path), path};
}

ImageRows::ImageRows(const std::string& path, int64_t max_pixels) : path_(path), max_pixels_(max_pixels) {
  if (max_pixels < 1) fail("--max-pixels must be positive, got ", max_pixels);
  decoder_ = open_row_decoder(path);
  if (decoder_) {
    height_ = decoder_->height(), width_ = decoder_->width();
  } else {
    whole_ = read_image(path, max_pixels).pixels;
    height_ = whole_.size(0), width_ = whole_.size(1);
  }
}

ImageRows::ImageRows(Image image) : path_(std::move(image.path)), whole_(std::move(image.pixels)) {
  TORCH_CHECK(whole_.dim() == 3 && whole_.size(2) == 3, "expected an H x W x 3 image, got ", whole_.sizes());
  height_ = whole_.size(0), width_ = whole_.size(1);
}

ImageRows::~ImageRows() = default;

at::Tensor ImageRows::read(int64_t count) {
  count = std::max<int64_t>(0, std::min(count, height_ - next_));
  if (!decoder_) {
    next_ += count;
    return whole_.slice(0, next_ - count, next_);
  }
  // Whole blocks from the file (a strip or tile is decoded once), the rest kept for the next call.
  const int64_t block = decoder_->block_rows();
  while (buffered_rows() < count) {
    const int64_t wanted = std::min((count - buffered_rows() + block - 1) / block * block, height_ - decoded_);
    if (wanted * width_ > max_pixels_) {
      fail(path_, ": a band of ", wanted, " rows of ", width_, " pixels is more than --max-pixels (", max_pixels_, ")");
    }
    cv::Mat raw = decoder_->read(wanted);
    // Gray rows held as one channel (a third of the memory), handed out as three equal ones.
    const at::Tensor band =
        raw.channels() == 1 ? gray_tensor(eight_bit(std::move(raw), path_)) : rgb_tensor(raw, path_);
    buffer_ = buffer_.defined() && buffer_.size(0) > 0 ? at::cat({buffer_, band}) : band;
    decoded_ += wanted;
  }
  const at::Tensor rows = buffer_.slice(0, 0, count);
  buffer_ = buffer_.slice(0, count).clone();
  next_ += count;
  return rows.size(2) == 1 ? rows.expand({-1, -1, 3}) : rows;
}

int64_t ImageRows::buffered_rows() const { return buffer_.defined() ? buffer_.size(0) : 0; }

at::Tensor resize_image(const at::Tensor& pixels, int64_t height, int64_t width, Interpolation interpolation) {
  if (pixels.size(0) == height && pixels.size(1) == width) return pixels;
  const cv::Mat src = to_mat(pixels);
  cv::Mat dst;
  const bool shrinking = height < pixels.size(0) && width < pixels.size(1);
  cv::resize(src, dst, cv::Size(static_cast<int>(width), static_cast<int>(height)), 0, 0,
             shrinking                                  ? cv::INTER_AREA
             : interpolation == Interpolation::kBicubic ? cv::INTER_CUBIC
                                                        : cv::INTER_LINEAR);
  return to_tensor(dst);
}

void write_label_png(const at::Tensor& labels, const std::string& path) {
  TORCH_CHECK(labels.dim() == 2, "expected an H x W label map, got ", labels.sizes());
  if (labels.numel() == 0) fail(path, ": cannot write an empty label map as PNG");
  const bool wide = labels.max().item<int64_t>() > 255;
  const at::Tensor c = labels.to(wide ? at::kInt : at::kByte).contiguous();
  if (!wide) {
    write_file_atomically(path, encode_png(c.data_ptr(), c.size(0), c.size(1), 1, 8));
    return;
  }
  std::vector<uint16_t> values(static_cast<size_t>(c.numel()));
  const int32_t* v = c.data_ptr<int32_t>();
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<uint16_t>(std::clamp<int32_t>(v[i], 0, 65535));
  write_file_atomically(path, encode_png(values.data(), c.size(0), c.size(1), 1, 16));
}

void write_rgb_png(const at::Tensor& pixels, const std::string& path) {
  if (pixels.numel() == 0) fail(path, ": cannot write an empty image as PNG");
  write_file_atomically(path, encode_rgb_png(pixels));
}

std::string encode_rgb_png(const at::Tensor& pixels) {
  TORCH_CHECK(pixels.dim() == 3 && pixels.size(2) == 3 && pixels.scalar_type() == at::kByte,
              "expected an H x W x 3 uint8 image, got ", pixels.sizes());
  const at::Tensor c = pixels.cpu().contiguous();
  return encode_png(c.data_ptr(), c.size(0), c.size(1), 3, 8);
}

}  // namespace segkit
