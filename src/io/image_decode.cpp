#include "image_decode.h"
#include "png_decode.h"

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE and size_t first
#include <jpeglib.h>
#include <jerror.h>
// clang-format on
#include <png.h>
#include <tiffio.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "segkit/core/errors.h"

namespace segkit {
namespace {

enum class ImageFormat { kPng, kJpeg, kBmp, kTiff };

struct ImageHeader {
  ImageFormat format;
  int64_t width = 0;
  int64_t height = 0;
};

// OpenCV refuses larger images itself (CV_IO_MAX_IMAGE_PIXELS); one cv::Mat holds them.
constexpr int64_t kMaxDecodablePixels = int64_t{1} << 30;

// A codec library's message, kept for segkit's one line instead of printed.
struct Message {
  char text[200] = {};
  void set(const char* message) {
    if (text[0] == '\0') std::snprintf(text, sizeof(text), "%s", message);
  }
};

uint32_t le32(const unsigned char* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }
uint16_t le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

// ---- PNG (libpng) ----------------------------------------------------------------------
// libpng reports errors by longjmp; each phase is a function of its own that sets the jump
// target and holds no C++ object that needs a destructor.

struct PngJob {
  const unsigned char* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  std::FILE* file = nullptr;  // where set, the bytes come from it instead of data
  PixelMode mode = PixelMode::kColour;
  png_structp png = nullptr;
  png_infop info = nullptr;
  Message error;
  png_uint_32 width = 0, height = 0;
  int channels = 0, bit_depth = 0;
  size_t row_bytes = 0;
};

void png_read_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* job = static_cast<PngJob*>(png_get_io_ptr(png));
  if (job->file != nullptr) {
    if (std::fread(out, 1, n, job->file) != n) png_error(png, "the file ends early");
    return;
  }
  if (n > job->size - job->pos) png_error(png, "the file ends early");
  std::memcpy(out, job->data + job->pos, n);
  job->pos += n;
}

void png_on_error(png_structp png, png_const_charp message) {
  static_cast<PngJob*>(png_get_error_ptr(png))->error.set(message);
  png_longjmp(png, 1);
}

void png_on_warning(png_structp, png_const_charp) {}  // ancillary problems: the pixels are intact

bool png_open(PngJob* job) {
  job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, png_on_error, png_on_warning);
  if (job->png == nullptr) return false;
  job->info = png_create_info_struct(job->png);
  if (job->info == nullptr) return false;
  if (setjmp(png_jmpbuf(job->png))) return false;
  png_set_read_fn(job->png, job, png_read_bytes);
  png_read_info(job->png, job->info);
  job->width = png_get_image_width(job->png, job->info);
  job->height = png_get_image_height(job->png, job->info);
  return true;
}

// The transforms to OpenCV's layout (or palette indices), applied to the header.
bool png_prepare(PngJob* job) {
  if (setjmp(png_jmpbuf(job->png))) return false;
  png_structp png = job->png;
  const int colour = png_get_color_type(png, job->info);
  const int depth = png_get_bit_depth(png, job->info);
  if (depth == 16) png_set_swap(png);  // native (little-endian) 16-bit samples
  if (colour == PNG_COLOR_TYPE_PALETTE) {
    if (job->mode == PixelMode::kLabels) {
      png_set_packing(png);  // indices, one byte each
    } else {
      png_set_palette_to_rgb(png);
      if (png_get_valid(png, job->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
      png_set_bgr(png);
    }
  } else if (colour == PNG_COLOR_TYPE_GRAY || colour == PNG_COLOR_TYPE_GRAY_ALPHA) {
    if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (colour == PNG_COLOR_TYPE_GRAY_ALPHA) {
      if (job->mode == PixelMode::kLabels) {
        png_set_strip_alpha(png);
      } else {
        png_set_gray_to_rgb(png);
      }
    }
  } else {
    // RGB with a transparent colour: BGRA, as OpenCV gives it (gray with one stays gray).
    if (colour == PNG_COLOR_TYPE_RGB && job->mode == PixelMode::kColour &&
        png_get_valid(png, job->info, PNG_INFO_tRNS)) {
      png_set_tRNS_to_alpha(png);
    }
    png_set_bgr(png);
  }
  png_set_interlace_handling(png);
  png_read_update_info(png, job->info);
  job->channels = png_get_channels(png, job->info);
  job->bit_depth = png_get_bit_depth(png, job->info);
  job->row_bytes = png_get_rowbytes(png, job->info);
  return true;
}

bool png_pixels(PngJob* job, png_bytepp rows) {
  if (setjmp(png_jmpbuf(job->png))) return false;
  png_read_image(job->png, rows);
  png_read_end(job->png, nullptr);
  return true;
}

bool png_rows(PngJob* job, png_bytepp rows, png_uint_32 count) {
  if (setjmp(png_jmpbuf(job->png))) return false;
  png_read_rows(job->png, rows, nullptr, count);
  return true;
}

struct PngCleanup {
  PngJob& job;
  ~PngCleanup() { png_destroy_read_struct(&job.png, &job.info, nullptr); }
};

// ---- JPEG (libjpeg-turbo) ------------------------------------------------------------------

// A progressive JPEG may hold any number of scans, each a pass over the whole image: a
// hostile file with thousands of them takes minutes (libjpeg-turbo's djpeg caps them too).
constexpr int kMaxJpegScans = 1000;

struct JpegJob {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  jpeg_progress_mgr progress;
  jmp_buf jump;
  Message error;
  Message damage;  // a warning that means pixels were lost or made up
};

void jpeg_on_error(j_common_ptr cinfo) {
  auto* job = reinterpret_cast<JpegJob*>(cinfo->client_data);
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  job->error.set(text);
  std::longjmp(job->jump, 1);
}

void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level != -1) return;  // trace messages
  auto* job = reinterpret_cast<JpegJob*>(cinfo->client_data);
  switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:  // a truncated file: libjpeg makes up the rest
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_BOGUS_PROGRESSION: {
      char text[JMSG_LENGTH_MAX];
      (*cinfo->err->format_message)(cinfo, text);
      job->damage.set(text);
      break;
    }
    default: break;  // extraneous bytes, unknown JFIF versions, odd-but-decodable SOS parameters
  }
}

void jpeg_output_nothing(j_common_ptr) {}

void jpeg_count_scans(j_common_ptr cinfo) {
  auto* job = reinterpret_cast<JpegJob*>(cinfo->client_data);
  if (job->cinfo.input_scan_number > kMaxJpegScans) {
    job->error.set("more than 1000 progressive scans");
    std::longjmp(job->jump, 1);
  }
}

// The header, from `data` or, where that is null, from `file` (read as libjpeg needs it).
bool jpeg_open(JpegJob* job, const unsigned char* data, size_t size, std::FILE* file = nullptr) {
  job->cinfo.err = jpeg_std_error(&job->err);
  job->err.error_exit = jpeg_on_error;
  job->err.emit_message = jpeg_on_message;
  job->err.output_message = jpeg_output_nothing;
  job->cinfo.client_data = job;  // kept by jpeg_create_decompress, needed if it fails
  if (setjmp(job->jump)) return false;
  jpeg_create_decompress(&job->cinfo);
  job->progress.progress_monitor = jpeg_count_scans;
  job->cinfo.progress = &job->progress;
  if (data != nullptr) {
    jpeg_mem_src(&job->cinfo, data, static_cast<unsigned long>(size));
  } else {
    jpeg_stdio_src(&job->cinfo, file);
  }
  jpeg_read_header(&job->cinfo, TRUE);
  return true;
}

bool jpeg_is_cmyk(const jpeg_decompress_struct& cinfo) {
  return cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
}

// Gray stays gray, CMYK stays CMYK (adobe_cmyk_to_bgr converts it), the rest becomes BGR.
void jpeg_choose_output(jpeg_decompress_struct& cinfo) {
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE
                          : jpeg_is_cmyk(cinfo)                   ? JCS_CMYK
                                                                  : JCS_EXT_BGR;
}

// The OpenCV type of the rows jpeg_choose_output gives.
int jpeg_mat_type(const jpeg_decompress_struct& cinfo) {
  return cinfo.jpeg_color_space == JCS_GRAYSCALE ? CV_8UC1 : jpeg_is_cmyk(cinfo) ? CV_8UC4 : CV_8UC3;
}

// Adobe's inverted CMYK to BGR, as OpenCV converts it.
cv::Mat adobe_cmyk_to_bgr(const cv::Mat& mat) {
  cv::Mat bgr(mat.rows, mat.cols, CV_8UC3);
  for (int r = 0; r < mat.rows; ++r) {
    const uchar* in = mat.ptr(r);
    uchar* out = bgr.ptr(r);
    for (int c = 0; c < mat.cols; ++c, in += 4, out += 3) {
      const int k = in[3];
      out[2] = static_cast<uchar>(k - ((255 - in[0]) * k >> 8));
      out[1] = static_cast<uchar>(k - ((255 - in[1]) * k >> 8));
      out[0] = static_cast<uchar>(k - ((255 - in[2]) * k >> 8));
    }
  }
  return bgr;
}

bool jpeg_pixels(JpegJob* job, unsigned char* out, size_t row_step) {
  if (setjmp(job->jump)) return false;
  jpeg_decompress_struct& cinfo = job->cinfo;
  jpeg_choose_output(cinfo);
  jpeg_start_decompress(&cinfo);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out + cinfo.output_scanline * row_step;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  return true;
}

struct JpegCleanup {
  JpegJob& job;
  ~JpegCleanup() { jpeg_destroy_decompress(&job.cinfo); }
};

// ---- TIFF (libtiff, header only) ------------------------------------------------------------

struct TiffSource {
  const unsigned char* data = nullptr;
  toff_t size = 0;
  toff_t pos = 0;
  Message error;
};

tmsize_t tiff_read(thandle_t h, void* out, tmsize_t n) {
  auto* s = static_cast<TiffSource*>(h);
  if (n < 0 || s->pos >= s->size) return 0;
  const tmsize_t m = std::min<tmsize_t>(n, static_cast<tmsize_t>(s->size - s->pos));
  std::memcpy(out, s->data + s->pos, static_cast<size_t>(m));
  s->pos += static_cast<toff_t>(m);
  return m;
}
tmsize_t tiff_write(thandle_t, void*, tmsize_t) { return 0; }
toff_t tiff_seek(thandle_t h, toff_t offset, int whence) {
  auto* s = static_cast<TiffSource*>(h);
  const toff_t base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->size : 0;
  s->pos = base + offset;
  return s->pos;
}
int tiff_close(thandle_t) { return 0; }
toff_t tiff_size(thandle_t h) { return static_cast<TiffSource*>(h)->size; }
int tiff_on_error(TIFF*, void* user, const char* module, const char* format, va_list args) {
  char text[200];
  std::vsnprintf(text, sizeof(text), format, args);
  static_cast<TiffSource*>(user)->error.set(module != nullptr && *module ? (std::string(module) + ": " + text).c_str()
                                                                         : text);
  return 1;  // handled: nothing printed
}
int tiff_on_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }
void tiff_silent(const char*, const char*, va_list) {}

// libtiff on `source`'s bytes or, where it holds none, on the file `path` itself (read as it is
// needed), its messages kept in source.error instead of printed; null if no header is read.
TIFF* open_tiff(TiffSource& source, const std::string& path) {
  static std::once_flag silence;
  std::call_once(silence, [] {  // libtiff's global handlers print to stderr
    TIFFSetErrorHandler(tiff_silent);
    TIFFSetWarningHandler(tiff_silent);
  });
  TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(options, tiff_on_error, &source);
  TIFFOpenOptionsSetWarningHandlerExtR(options, tiff_on_warning, &source);
  TIFFOpenOptionsSetMaxSingleMemAlloc(options, 64 << 20);  // tag arrays of a hostile header
  TIFF* tiff = source.data != nullptr ? TIFFClientOpenExt(path.c_str(), "rm", &source, tiff_read, tiff_write, tiff_seek,
                                                          tiff_close, tiff_size, nullptr, nullptr, options)
                                      : TIFFOpenExt(path.c_str(), "rm", options);
  TIFFOpenOptionsFree(options);
  return tiff;
}

bool is_tiff(const unsigned char* p, size_t n) {
  return n >= 4 && (std::memcmp(p, "II*\0", 4) == 0 || std::memcmp(p, "MM\0*", 4) == 0 ||
                    std::memcmp(p, "II+\0", 4) == 0 || std::memcmp(p, "MM\0+", 4) == 0);
}

ImageHeader tiff_header(const std::string& bytes, const std::string& path) {
  TiffSource source;
  source.data = reinterpret_cast<const unsigned char*>(bytes.data());
  source.size = bytes.size();
  TIFF* tiff = open_tiff(source, path);
  if (tiff == nullptr) {
    fail(path, ": corrupt or truncated TIFF image (", source.error.text[0] ? source.error.text : "unreadable header",
         ")");
  }
  uint32_t width = 0, height = 0;
  const bool ok =
      TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &width) == 1 && TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &height) == 1;
  TIFFClose(tiff);
  if (!ok) fail(path, ": corrupt TIFF image (no width or height in its header)");
  return {ImageFormat::kTiff, width, height};
}

// ---- BMP (by hand: the file and info headers) ----------------------------------------------

ImageHeader bmp_header(const std::string& bytes, const std::string& path) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 26) fail(path, ": BMP image is truncated (", bytes.size(), " bytes, no header)");
  const uint32_t info_size = le32(p + 14);
  if (info_size == 12) return {ImageFormat::kBmp, le16(p + 18), le16(p + 20)};  // OS/2 BITMAPCOREHEADER
  const auto width = static_cast<int32_t>(le32(p + 18));
  const auto height = static_cast<int32_t>(le32(p + 22));
  if (info_size < 40 || width < 0) fail(path, ": corrupt BMP image (bad header)");
  return {ImageFormat::kBmp, width, height < 0 ? -static_cast<int64_t>(height) : height};  // negative: top-down
}

const char* format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kTiff: return "TIFF";
  }
  return "image";
}

// ---- OpenCV (BMP, TIFF) ----------------------------------------------------------------------

// OpenCV's imdecode prints to std::cerr when a decoder throws. std::cerr's buffer is replaced
// once, before main() (and any thread) starts, by one that forwards to stderr, except on a
// thread that is decoding with OpenCV: there the text is kept for segkit's message. Nothing
// swaps buffers while threads run (the loaders decode while the main thread prints progress).
class CerrTap : public std::streambuf {
 public:
  static thread_local std::string* capture;

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return 0;
    const char ch = static_cast<char>(c);
    return xsputn(&ch, 1) == 1 ? c : traits_type::eof();
  }
  std::streamsize xsputn(const char* text, std::streamsize n) override {
    if (capture != nullptr) {
      capture->append(text, static_cast<size_t>(n));
      return n;
    }
    return static_cast<std::streamsize>(std::fwrite(text, 1, static_cast<size_t>(n), stderr));
  }
  int sync() override { return capture != nullptr ? 0 : std::fflush(stderr); }
};
thread_local std::string* CerrTap::capture = nullptr;

const bool kCerrTapped = [] {
  static CerrTap tap;
  std::cerr.rdbuf(&tap);
  return true;
}();

struct CaptureCerr {
  explicit CaptureCerr(std::string& into) { CerrTap::capture = &into; }
  ~CaptureCerr() { CerrTap::capture = nullptr; }
};

cv::Mat opencv_decode(const std::string& bytes, const std::string& path, const char* format, const char* what) {
  cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  std::string reason;
  cv::Mat mat;
  {
    CaptureCerr capture(reason);
    try {
      mat = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data())),
                         cv::IMREAD_UNCHANGED);
    } catch (const cv::Exception& e) {
      reason = e.what();
    }
  }
  if (mat.empty()) {
    // "imdecode_(''): can't read data: OpenCV(4.6.0) ./modules/...: error: (-2:...) WHY in function ..."
    if (const auto at = reason.find("error: "); at != std::string::npos) reason = reason.substr(at + 7);
    reason = first_line(reason);
    if (const auto code = reason.find(") "); !reason.empty() && reason[0] == '(' && code != std::string::npos) {
      reason = reason.substr(code + 2);
    }
    if (const auto at = reason.rfind(" in function "); at != std::string::npos) reason.resize(at);
    fail(path, ": corrupt or truncated ", format, " ", what, reason.empty() ? "" : " (" + shorten(reason, 200) + ")");
  }
  return mat;
}

void check_size(const ImageHeader& header, int64_t max_pixels, const std::string& path, const char* what) {
  if (max_pixels <= 0) fail(path, ": cannot be read with --max-pixels ", max_pixels, " (it must be positive)");
  if (header.width == 0 || header.height == 0) {
    fail(path, ": ", format_name(header.format), " ", what, " has no pixels (", header.width, "x", header.height, ")");
  }
  int64_t pixels = 0;  // each side is below 2^32, the product may not be below 2^63
  if (__builtin_mul_overflow(header.width, header.height, &pixels) || pixels > max_pixels) {
    fail(path, ": ", what, " is ", header.width, "x", header.height, " pixels, over the limit of ", max_pixels,
         " pixels (--max-pixels raises it)");
  }
  if (pixels > kMaxDecodablePixels || header.width > INT32_MAX || header.height > INT32_MAX) {
    fail(path, ": ", what, " is ", header.width, "x", header.height, " pixels, more than segkit can decode (",
         kMaxDecodablePixels, " pixels)");
  }
}

cv::Mat decode_png(const std::string& bytes, const std::string& path, PixelMode mode, const char* what) {
  PngJob job;
  job.data = reinterpret_cast<const unsigned char*>(bytes.data());
  job.size = bytes.size();
  job.mode = mode;
  PngCleanup cleanup{job};
  if (!png_open(&job)) fail(path, ": corrupt or truncated PNG ", what, " (", job.error.text, ")");
  if (!png_prepare(&job)) fail(path, ": corrupt PNG ", what, " (", job.error.text, ")");
  const int depth = job.bit_depth == 16 ? CV_16U : CV_8U;
  cv::Mat mat(static_cast<int>(job.height), static_cast<int>(job.width), CV_MAKETYPE(depth, job.channels));
  if (job.row_bytes != mat.step[0]) fail(path, ": unsupported PNG layout");
  std::vector<png_bytep> rows(job.height);
  for (png_uint_32 r = 0; r < job.height; ++r) rows[r] = mat.ptr(static_cast<int>(r));
  if (!png_pixels(&job, rows.data())) fail(path, ": corrupt or truncated PNG ", what, " (", job.error.text, ")");
  return mat;
}

// One libjpeg pass: its header (checked against the cap before any pixel), then the pixels.
cv::Mat decode_jpeg(const std::string& bytes, const std::string& path, int64_t max_pixels, const char* what) {
  auto job = std::make_unique<JpegJob>();
  if (!jpeg_open(job.get(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size())) {
    jpeg_destroy_decompress(&job->cinfo);
    fail(path, ": corrupt or truncated JPEG ", what, " (", job->error.text, ")");
  }
  JpegCleanup cleanup{*job};
  const jpeg_decompress_struct& cinfo = job->cinfo;
  check_size({ImageFormat::kJpeg, cinfo.image_width, cinfo.image_height}, max_pixels, path, what);
  cv::Mat mat(static_cast<int>(cinfo.image_height), static_cast<int>(cinfo.image_width), jpeg_mat_type(cinfo));
  if (!jpeg_pixels(job.get(), mat.data, mat.step[0])) {
    fail(path, ": corrupt or truncated JPEG ", what, " (", job->error.text, ")");
  }
  if (job->damage.text[0] != '\0') fail(path, ": corrupt or truncated JPEG ", what, " (", job->damage.text, ")");
  return jpeg_is_cmyk(cinfo) ? adobe_cmyk_to_bgr(mat) : mat;
}

}  // namespace

namespace {

bool is_jpeg(const std::string& bytes) {
  return bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8 && static_cast<unsigned char>(bytes[2]) == 0xFF;
}

// The dimensions of a PNG, BMP or TIFF from its header (a JPEG's come from decode_jpeg).
ImageHeader read_image_header(const std::string& bytes, const std::string& path) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  if (n >= 8 && png_sig_cmp(p, 0, 8) == 0) {
    if (n < 24 || std::memcmp(p + 12, "IHDR", 4) != 0) fail(path, ": corrupt PNG image (no IHDR header)");
    return {ImageFormat::kPng, read_be32(p + 16), read_be32(p + 20)};
  }
  if (n >= 2 && p[0] == 'B' && p[1] == 'M') return bmp_header(bytes, path);
  if (is_tiff(p, n)) return tiff_header(bytes, path);
  if (n == 0) fail(path, ": image file is empty");
  fail(path, ": not a PNG, JPEG, BMP or TIFF image");
}

}  // namespace

namespace {
// Defined below, with the row decoders.
std::unique_ptr<RowDecoder> tiff_rows(const std::string& path, const std::string* bytes);
}  // namespace

cv::Mat decode_image(const std::string& bytes, const std::string& path, int64_t max_pixels, PixelMode mode,
                     const char* what) {
  if (is_jpeg(bytes)) return decode_jpeg(bytes, path, max_pixels, what);
  const ImageHeader header = read_image_header(bytes, path);
  check_size(header, max_pixels, path, what);
  if (header.format == ImageFormat::kPng) return decode_png(bytes, path, mode, what);
  if (header.format == ImageFormat::kTiff && mode == PixelMode::kColour) {
    // 8-bit TIFF through libtiff's RGBA reader, 16-bit gray or RGB as stored, as ImageRows
    // reads them, so that a tiled prediction reading it in bands sees the pixels a whole read
    // gives.
    if (auto tiff = tiff_rows(path, &bytes)) return tiff->read(tiff->height());
  }
  cv::Mat mat = opencv_decode(bytes, path, format_name(header.format), what);
  if (mat.cols != header.width || mat.rows != header.height) {
    fail(path, ": corrupt ", format_name(header.format), " ", what, " (its header says ", header.width, "x",
         header.height, ", its pixels are ", mat.cols, "x", mat.rows, ")");
  }
  return mat;
}

namespace {

// A PNG that is not interlaced, row by row from its file.
class PngRowDecoder : public RowDecoder {
 public:
  PngRowDecoder(std::FILE* file, std::string path) : path_(std::move(path)) {
    job_.file = file;
    job_.mode = PixelMode::kColour;
  }
  ~PngRowDecoder() override {
    png_destroy_read_struct(&job_.png, &job_.info, nullptr);
    std::fclose(job_.file);
  }
  // False for an interlaced PNG (its rows come in passes over the whole image).
  bool open() {
    if (!png_open(&job_)) fail(path_, ": corrupt or truncated PNG image (", job_.error.text, ")");
    if (png_get_interlace_type(job_.png, job_.info) != PNG_INTERLACE_NONE) return false;
    if (!png_prepare(&job_)) fail(path_, ": corrupt PNG image (", job_.error.text, ")");
    return true;
  }
  int64_t height() const override { return job_.height; }
  int64_t width() const override { return job_.width; }
  int64_t block_rows() const override { return 64; }
  cv::Mat read(int64_t count) override {
    const int depth = job_.bit_depth == 16 ? CV_16U : CV_8U;
    cv::Mat band(static_cast<int>(count), static_cast<int>(job_.width), CV_MAKETYPE(depth, job_.channels));
    if (job_.row_bytes != band.step[0]) fail(path_, ": unsupported PNG layout");
    std::vector<png_bytep> rows(static_cast<size_t>(count));
    for (int64_t r = 0; r < count; ++r) rows[static_cast<size_t>(r)] = band.ptr(static_cast<int>(r));
    if (!png_rows(&job_, rows.data(), static_cast<png_uint_32>(count))) {
      fail(path_, ": corrupt or truncated PNG image (", job_.error.text, ")");
    }
    return band;
  }

 private:
  PngJob job_;
  std::string path_;
};

// A baseline JPEG, a band of rows at a time from its file: libjpeg holds a row of 8 x 8 or
// 16 x 16 blocks, whatever the image's size. A progressive JPEG is read whole instead (libjpeg
// keeps all its coefficients until the last scan: more than its pixels).
class JpegRowDecoder : public RowDecoder {
 public:
  JpegRowDecoder(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}
  ~JpegRowDecoder() override {
    jpeg_destroy_decompress(&job_->cinfo);  // safe on a struct that was never created (zeroed)
    std::fclose(file_);
  }
  // False for a progressive JPEG.
  bool open() {
    if (!start()) fail(path_, ": corrupt or truncated JPEG image (", job_->error.text, ")");
    return !progressive_;
  }
  int64_t height() const override { return job_->cinfo.output_height; }
  int64_t width() const override { return job_->cinfo.output_width; }
  int64_t block_rows() const override { return job_->cinfo.max_v_samp_factor * DCTSIZE; }  // a row of blocks
  cv::Mat read(int64_t count) override {
    cv::Mat band(static_cast<int>(count), static_cast<int>(width()), jpeg_mat_type(job_->cinfo));
    if (!rows(band)) fail(path_, ": corrupt or truncated JPEG image (", job_->error.text, ")");
    if (job_->damage.text[0] != '\0') fail(path_, ": corrupt or truncated JPEG image (", job_->damage.text, ")");
    return jpeg_is_cmyk(job_->cinfo) ? adobe_cmyk_to_bgr(band) : band;
  }

 private:
  bool start() {
    if (!jpeg_open(job_.get(), nullptr, 0, file_)) return false;
    if (setjmp(job_->jump)) return false;
    progressive_ = jpeg_has_multiple_scans(&job_->cinfo);
    if (progressive_) return true;
    jpeg_choose_output(job_->cinfo);
    jpeg_start_decompress(&job_->cinfo);
    return true;
  }
  bool rows(cv::Mat& band) {
    if (setjmp(job_->jump)) return false;
    for (int r = 0; r < band.rows; ++r) {
      JSAMPROW row = band.ptr(r);
      if (jpeg_read_scanlines(&job_->cinfo, &row, 1) != 1) {
        job_->error.set("no more rows");
        return false;
      }
    }
    return true;
  }

  std::FILE* file_;
  std::string path_;
  std::unique_ptr<JpegJob> job_ = std::make_unique<JpegJob>();
  bool progressive_ = false;
};

// An 8-bit TIFF, stripped or tiled, classic or BigTIFF: libtiff's RGBA reader, a band of
// strips or tiles at a time, as BGR (what OpenCV's decoder gives for the same file, alpha
// dropped as read_image drops it). 8-bit gray and 16-bit gray and RGB TIFFs as stored, a band
// at a time (gray stays one channel).
class TiffRowDecoder : public RowDecoder {
 public:
  // From the file, or from its bytes already in memory (`bytes`, which must outlive it).
  TiffRowDecoder(std::string path, const std::string* bytes) : path_(std::move(path)) {
    if (bytes != nullptr) {
      source_.data = reinterpret_cast<const unsigned char*>(bytes->data());
      source_.size = bytes->size();
    }
  }
  ~TiffRowDecoder() override {
    if (began_) TIFFRGBAImageEnd(&image_);
    if (tiff_ != nullptr) TIFFClose(tiff_);
  }
  // False where OpenCV decodes it whole instead (other depths and layouts).
  bool open() {
    tiff_ = open_tiff(source_, path_);
    if (tiff_ == nullptr) fail(path_, ": corrupt or truncated TIFF image (", message("unreadable header"), ")");
    uint16_t bits = 0;
    TIFFGetFieldDefaulted(tiff_, TIFFTAG_BITSPERSAMPLE, &bits);
    if (TIFFIsTiled(tiff_)) {
      uint32_t length = 0;
      TIFFGetField(tiff_, TIFFTAG_TILELENGTH, &length);
      block_ = std::max<int64_t>(1, length);
    } else {
      uint32_t rows = 0;
      TIFFGetFieldDefaulted(tiff_, TIFFTAG_ROWSPERSTRIP, &rows);
      block_ = std::clamp<int64_t>(rows, 1, 4096);
    }
    if ((bits == 8 || bits == 16) && open_as_stored(bits)) return true;
    if (bits == 16) return false;
    char why[1024] = {};
    if (bits != 8 || TIFFRGBAImageOK(tiff_, why) != 1) return false;
    // libtiff's RGBA reader takes a missing strip (no bytes) in a read of every row, where the
    // strips were read as one, and refuses it in a band: refused here, whole or in bands.
    for (uint32_t strip = 0, n = TIFFNumberOfStrips(tiff_); strip < n; ++strip) {
      if (TIFFGetStrileByteCount(tiff_, strip) == 0) {
        fail(path_, ": corrupt TIFF image (", TIFFIsTiled(tiff_) ? "tile " : "strip ", strip, " has no data)");
      }
    }
    if (TIFFRGBAImageBegin(&image_, tiff_, /*stop_on_error=*/1, why) != 1) {
      fail(path_, ": corrupt TIFF image (", why, ")");
    }
    began_ = true;
    image_.req_orientation = ORIENTATION_TOPLEFT;
    height_ = image_.height;
    width_ = image_.width;
    return true;
  }
  int64_t height() const override { return height_; }
  int64_t width() const override { return width_; }
  int64_t block_rows() const override { return block_; }
  cv::Mat read(int64_t count) override {
    if (samples_ > 0) return read_as_stored(count);
    std::vector<uint32_t> raster(static_cast<size_t>(count * width()));
    image_.row_offset = static_cast<int>(next_);
    image_.col_offset = 0;
    if (TIFFRGBAImageGet(&image_, raster.data(), image_.width, static_cast<uint32_t>(count)) != 1) {
      fail(path_, ": corrupt or truncated TIFF image (", message("unreadable pixels"), ")");
    }
    next_ += count;
    cv::Mat band(static_cast<int>(count), static_cast<int>(width()), CV_8UC3);
    const uint32_t* in = raster.data();
    for (int r = 0; r < band.rows; ++r) {
      uchar* out = band.ptr(r);
      for (int c = 0; c < band.cols; ++c, ++in, out += 3) {
        out[0] = static_cast<uchar>(TIFFGetB(*in));
        out[1] = static_cast<uchar>(TIFFGetG(*in));
        out[2] = static_cast<uchar>(TIFFGetR(*in));
      }
    }
    return band;
  }

 private:
  const char* message(const char* otherwise) const { return source_.error.text[0] ? source_.error.text : otherwise; }

  // 8-bit gray, 16-bit gray or RGB(A) with interleaved unsigned samples, top row first
  // (microscopes' TIFFs): read as stored, in OpenCV's layout (gray, BGR, BGRA), which
  // read_image scales to 8 bits as it scales any 16-bit image. False for the rest (other 8-bit
  // ones go through the RGBA reader; other 16-bit ones OpenCV reads whole).
  bool open_as_stored(int bits) {
    uint16_t samples = 1, photometric = 0, planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT;
    uint16_t orientation = ORIENTATION_TOPLEFT;
    TIFFGetFieldDefaulted(tiff_, TIFFTAG_SAMPLESPERPIXEL, &samples);
    TIFFGetFieldDefaulted(tiff_, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tiff_, TIFFTAG_SAMPLEFORMAT, &format);
    TIFFGetFieldDefaulted(tiff_, TIFFTAG_ORIENTATION, &orientation);
    if (TIFFGetField(tiff_, TIFFTAG_PHOTOMETRIC, &photometric) != 1) return false;
    const bool gray = photometric == PHOTOMETRIC_MINISBLACK && samples == 1;
    const bool colour = bits == 16 && photometric == PHOTOMETRIC_RGB && (samples == 3 || samples == 4);
    if (!(gray || colour) || planar != PLANARCONFIG_CONTIG || format != SAMPLEFORMAT_UINT ||
        orientation != ORIENTATION_TOPLEFT) {
      return false;
    }
    uint32_t width = 0, height = 0;
    TIFFGetField(tiff_, TIFFTAG_IMAGEWIDTH, &width);
    TIFFGetField(tiff_, TIFFTAG_IMAGELENGTH, &height);
    width_ = width;
    height_ = height;
    samples_ = samples;
    bytes_ = bits / 8;
    if (TIFFIsTiled(tiff_)) {
      TIFFGetField(tiff_, TIFFTAG_TILEWIDTH, &tile_width_);
      // A tile is read whole: more than 64 MiB of one (a 2896 x 2896 tile of 16-bit RGBA) is a
      // corrupt header, not a slide.
      const int64_t tile_bytes = static_cast<int64_t>(tile_width_) * block_ * bytes_ * samples_;
      if (tile_width_ == 0 || tile_bytes > (int64_t{64} << 20)) {
        fail(path_, ": corrupt TIFF image (tiles of ", tile_width_, " x ", block_, " pixels)");
      }
    }
    return true;
  }

  cv::Mat read_as_stored(int64_t count) {
    cv::Mat band(static_cast<int>(count), static_cast<int>(width_),
                 CV_MAKETYPE(bytes_ == 2 ? CV_16U : CV_8U, samples_));
    const size_t pixel_bytes = static_cast<size_t>(bytes_) * static_cast<size_t>(samples_);
    if (TIFFIsTiled(tiff_)) {
      std::vector<unsigned char> tile(static_cast<size_t>(tile_width_) * static_cast<size_t>(block_) * pixel_bytes);
      for (int64_t top = next_ / block_ * block_; top < next_ + count; top += block_) {
        const int64_t first = std::max(top, next_), last = std::min(top + block_, next_ + count);
        for (int64_t left = 0; left < width_; left += tile_width_) {
          if (TIFFReadTile(tiff_, tile.data(), static_cast<uint32_t>(left), static_cast<uint32_t>(top), 0, 0) < 0) {
            fail(path_, ": corrupt or truncated TIFF image (", message("unreadable tile"), ")");
          }
          const size_t bytes = static_cast<size_t>(std::min<int64_t>(tile_width_, width_ - left)) * pixel_bytes;
          for (int64_t r = first; r < last; ++r) {
            std::memcpy(band.ptr(static_cast<int>(r - next_)) + static_cast<size_t>(left) * pixel_bytes,
                        tile.data() + static_cast<size_t>((r - top) * tile_width_) * pixel_bytes, bytes);
          }
        }
      }
    } else {
      for (int64_t r = 0; r < count; ++r) {
        if (TIFFReadScanline(tiff_, band.ptr(static_cast<int>(r)), static_cast<uint32_t>(next_ + r), 0) < 0) {
          fail(path_, ": corrupt or truncated TIFF image (", message("unreadable row"), ")");
        }
      }
    }
    next_ += count;
    if (samples_ == 3) cv::cvtColor(band, band, cv::COLOR_RGB2BGR);
    if (samples_ == 4) cv::cvtColor(band, band, cv::COLOR_RGBA2BGRA);
    return band;
  }

  std::string path_;
  TiffSource source_;  // the bytes, if in memory, and libtiff's messages
  TIFF* tiff_ = nullptr;
  TIFFRGBAImage image_{};  // 8-bit images
  bool began_ = false;
  int64_t height_ = 0, width_ = 0;
  int64_t block_ = 1;  // rows per strip or tile
  int samples_ = 0;    // read as stored: samples per pixel; 0: through image_
  int bytes_ = 1;      // read as stored: bytes per sample
  uint32_t tile_width_ = 0;
  int64_t next_ = 0;
};

}  // namespace

std::unique_ptr<RowDecoder> open_row_decoder(const std::string& path) {
  std::error_code ec;  // a folder or a FIFO (opening one would wait for a writer): read whole names it
  if (!std::filesystem::is_regular_file(path, ec)) return nullptr;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return nullptr;  // decode_image's caller names the problem
  unsigned char magic[8] = {};
  const size_t n = std::fread(magic, 1, sizeof(magic), file);
  if (n == sizeof(magic) && png_sig_cmp(magic, 0, 8) == 0) {
    std::rewind(file);
    auto png = std::make_unique<PngRowDecoder>(file, path);
    if (png->open()) return png;
    return nullptr;
  }
  if (n >= 3 && is_jpeg(std::string(reinterpret_cast<const char*>(magic), 3))) {
    std::rewind(file);
    auto jpeg = std::make_unique<JpegRowDecoder>(file, path);
    if (jpeg->open()) return jpeg;
    return nullptr;
  }
  std::fclose(file);
  return is_tiff(magic, n) ? tiff_rows(path, nullptr) : nullptr;
}

namespace {

std::unique_ptr<RowDecoder> tiff_rows(const std::string& path, const std::string* bytes) {
  auto tiff = std::make_unique<TiffRowDecoder>(path, bytes);
  if (tiff->open()) return tiff;
  return nullptr;
}

}  // namespace

}  // namespace segkit
