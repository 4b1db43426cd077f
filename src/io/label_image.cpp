#include "segkit/io/label_image.h"

#include <ATen/ATen.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "image_decode.h"
#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"

namespace segkit {

at::Tensor read_label_image(const std::string& path, int64_t max_pixels) {
  const std::string bytes = read_file(path);
  cv::Mat raw = decode_image(bytes, path, max_pixels, PixelMode::kLabels, "label image");
  if (raw.channels() > 1) {
    std::vector<cv::Mat> planes;
    cv::split(raw, planes);
    for (int c = 1; c < std::min(3, raw.channels()); ++c) {
      if (cv::countNonZero(planes[c] != planes[0]) > 0) {
        fail(path, ": label image has colour channels that differ; expected one channel of class indices");
      }
    }
    raw = planes[0];
  }
  if (raw.depth() != CV_8U && raw.depth() != CV_16U) fail(path, ": label image must be 8- or 16-bit");
  cv::Mat wide;
  raw.convertTo(wide, CV_32S);
  return at::from_blob(wide.data, {wide.rows, wide.cols}, at::kInt).to(at::kLong);
}

at::Tensor connected_components(const at::Tensor& mask, int64_t* count) {
  TORCH_CHECK(mask.dim() == 2, "expected an H x W mask, got ", mask.sizes());
  at::Tensor binary = mask.ne(0).to(at::kByte).contiguous();
  cv::Mat src(static_cast<int>(binary.size(0)), static_cast<int>(binary.size(1)), CV_8UC1, binary.data_ptr());
  cv::Mat labels;
  const int n = cv::connectedComponents(src, labels, 4, CV_32S);
  if (count) *count = n - 1;
  return at::from_blob(labels.data, {labels.rows, labels.cols}, at::kInt).to(at::kLong);
}

at::Tensor distance_to_zero(const at::Tensor& mask) {
  TORCH_CHECK(mask.dim() == 2, "expected an H x W mask, got ", mask.sizes());
  at::Tensor binary = mask.ne(0).to(at::kByte).contiguous();
  cv::Mat src(static_cast<int>(binary.size(0)), static_cast<int>(binary.size(1)), CV_8UC1, binary.data_ptr());
  cv::Mat distance;
  cv::distanceTransform(src, distance, cv::DIST_L2, cv::DIST_MASK_PRECISE, CV_32F);
  return at::from_blob(distance.data, {distance.rows, distance.cols}, at::kFloat).clone();
}

struct StreamingPng::State {
  std::string path;
  std::unique_ptr<AtomicFile> file;
  png_structp png = nullptr;
  png_infop info = nullptr;
  int64_t height = 0, width = 0, channels = 1, bit_depth = 8, written = 0;
};

namespace {

void png_write_to_file(png_structp png, png_bytep data, png_size_t size) {
  static_cast<AtomicFile*>(png_get_io_ptr(png))->write(data, size);
}
void png_flush_nothing(png_structp) {}
[[noreturn]] void png_error_throw(png_structp, png_const_charp message) { throw std::runtime_error(message); }

}  // namespace

StreamingPng::StreamingPng(const std::string& path, int64_t height, int64_t width, int64_t channels, int64_t bit_depth)
    : state_(new State) {
  TORCH_CHECK(channels == 1 || channels == 3, "PNG rows are gray or RGB");
  TORCH_CHECK(bit_depth == 8 || (bit_depth == 16 && channels == 1), "PNG rows are 8-bit, or 16-bit gray");
  state_->channels = channels;
  state_->bit_depth = bit_depth;
  state_->path = path;
  state_->height = height;
  state_->width = width;
  state_->file = std::make_unique<AtomicFile>(path);
  state_->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, png_error_throw, nullptr);
  state_->info = png_create_info_struct(state_->png);
  png_set_write_fn(state_->png, state_->file.get(), png_write_to_file, png_flush_nothing);
  png_set_IHDR(state_->png, state_->info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height),
               static_cast<int>(bit_depth), channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(state_->png, 1);
  png_write_info(state_->png, state_->info);
}

StreamingPng::~StreamingPng() {
  png_destroy_write_struct(&state_->png, &state_->info);
  delete state_;  // an unfinished file's temporary is removed by AtomicFile
}

void StreamingPng::write_rows(const at::Tensor& rows) {
  TORCH_CHECK(rows.dim() == (state_->channels == 3 ? 3 : 2) && rows.size(1) == state_->width, "expected rows of ",
              state_->width, " pixels with ", state_->channels, " channels, got ", rows.sizes());
  TORCH_CHECK(state_->written + rows.size(0) <= state_->height, "more rows than the image has");
  if (state_->bit_depth == 16) {
    // PNG's samples are big-endian.
    const at::Tensor values = rows.to(at::kInt).contiguous();
    std::vector<uint8_t> row(static_cast<size_t>(2 * state_->width));
    for (int64_t r = 0; r < values.size(0); ++r) {
      const int32_t* v = values[r].data_ptr<int32_t>();
      for (int64_t x = 0; x < state_->width; ++x) {
        row[static_cast<size_t>(2 * x)] = static_cast<uint8_t>(v[x] >> 8);
        row[static_cast<size_t>(2 * x + 1)] = static_cast<uint8_t>(v[x]);
      }
      png_write_row(state_->png, row.data());
    }
  } else {
    const at::Tensor bytes = rows.to(at::kByte).contiguous();
    for (int64_t r = 0; r < bytes.size(0); ++r) png_write_row(state_->png, bytes[r].data_ptr<uint8_t>());
  }
  state_->written += rows.size(0);
}

void StreamingPng::finish() {
  if (state_->written != state_->height) {
    fail(state_->path, ": ", state_->written, " of ", state_->height, " rows written");
  }
  png_write_end(state_->png, nullptr);
  state_->file->commit();
}

}  // namespace segkit
