#include "segkit/io/overlay.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "mat_tensor.h"

namespace segkit {

at::Tensor overlay(const at::Tensor& image, const at::Tensor& labels, const at::Tensor& palette, double alpha) {
  TORCH_CHECK(palette.dim() == 2 && (palette.size(1) == 3 || palette.size(1) == 4) && palette.size(0) > 0,
              "a palette is K x 3 or K x 4, K at least 1");
  TORCH_CHECK(image.dim() == 3 && image.size(2) == 3 && image.scalar_type() == at::kByte && labels.dim() == 2 &&
                  labels.size(0) == image.size(0) && labels.size(1) == image.size(1),
              "overlay: an H x W x 3 uint8 image and H x W labels, got ", image.sizes(), " and ", labels.sizes());
  TORCH_CHECK(alpha >= 0 && alpha <= 1, "overlay: alpha must be between 0 and 1, got ", alpha);
  // One pass over the pixels: the two weighted terms of image * (1 - alpha) + colour * alpha
  // from tables (the image's 256 values, the palette's colours), summed in float and rounded
  // half to even: the bytes of that float32 tensor expression, rounded and converted.
  const float keep = static_cast<float>(1.0 - alpha), weight = static_cast<float>(alpha);
  std::array<float, 256> faded;
  for (size_t v = 0; v < faded.size(); ++v) faded[v] = static_cast<float>(v) * keep;
  const int64_t classes = palette.size(0), columns = palette.size(1);
  const at::Tensor colours = palette.to(at::kCPU, at::kByte).contiguous();
  const uint8_t* p = colours.data_ptr<uint8_t>();
  std::vector<float> tint(static_cast<size_t>(classes * 3));
  std::vector<uint8_t> bare(static_cast<size_t>(classes));  // RGBA classes of alpha 0: left as they are
  for (int64_t k = 0; k < classes; ++k) {
    for (int64_t c = 0; c < 3; ++c) tint[k * 3 + c] = static_cast<float>(p[k * columns + c]) * weight;
    bare[k] = columns == 4 && p[k * 4 + 3] == 0;
  }
  const at::Tensor pixels = image.cpu().contiguous();
  const at::Tensor index = labels.to(at::kCPU, at::kLong).contiguous();
  at::Tensor out = at::empty(pixels.sizes(), at::kByte);
  const uint8_t* src = pixels.data_ptr<uint8_t>();
  const int64_t* label = index.data_ptr<int64_t>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  // Adding and taking away 2^23 rounds a float in [0, 2^23) to the nearest integer, ties to
  // even, as at::round does.
  constexpr float kRound = 8388608.f;
  at::parallel_for(0, index.numel(), 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t k = std::min(std::max<int64_t>(label[i], 0), classes - 1);
      const uint8_t* in = src + 3 * i;
      uint8_t* o = dst + 3 * i;
      if (bare[static_cast<size_t>(k)]) {
        o[0] = in[0], o[1] = in[1], o[2] = in[2];
        continue;
      }
      const float* t = tint.data() + 3 * k;
      for (int c = 0; c < 3; ++c) o[c] = static_cast<uint8_t>((faded[in[c]] + t[c] + kRound) - kRound);
    }
  });
  return out;
}

at::Tensor legend_panel(const std::vector<std::string>& names, const at::Tensor& palette, int64_t height) {
  constexpr int kRow = 18, kSwatch = 12, kMargin = 6;
  constexpr double kScale = 0.4;
  const int rows_per_column = std::max<int>(1, static_cast<int>((height - 2 * kMargin) / kRow));
  const int columns = (static_cast<int>(names.size()) + rows_per_column - 1) / rows_per_column;
  int text_width = 0;
  for (const auto& name : names) {
    int baseline = 0;
    text_width = std::max(text_width, cv::getTextSize(name, cv::FONT_HERSHEY_SIMPLEX, kScale, 1, &baseline).width);
  }
  const int column_width = kSwatch + 6 + text_width + kMargin;
  cv::Mat panel(static_cast<int>(height), std::max(1, kMargin + columns * column_width), CV_8UC3,
                cv::Scalar(255, 255, 255));
  const auto p = palette.accessor<uint8_t, 2>();
  for (size_t k = 0; k < names.size() && static_cast<int64_t>(k) < palette.size(0); ++k) {
    const int x = kMargin + static_cast<int>(k) / rows_per_column * column_width;
    const int y = kMargin + static_cast<int>(k) % rows_per_column * kRow;
    if (y + kRow > height) continue;
    const cv::Rect swatch(x, y + (kRow - kSwatch) / 2, kSwatch, kSwatch);
    const bool bare = palette.size(1) == 4 && p[static_cast<int64_t>(k)][3] == 0;
    const cv::Scalar colour(p[static_cast<int64_t>(k)][0], p[static_cast<int64_t>(k)][1],
                            p[static_cast<int64_t>(k)][2]);
    if (!bare) cv::rectangle(panel, swatch, colour, cv::FILLED);
    cv::rectangle(panel, swatch, cv::Scalar(90, 90, 90), 1);
    cv::putText(panel, names[k], cv::Point(x + kSwatch + 6, y + kRow - 5), cv::FONT_HERSHEY_SIMPLEX, kScale,
                cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  return to_tensor(panel);  // RGB already: the colours were given in RGB order
}

at::Tensor heat_overlay(const at::Tensor& image, const at::Tensor& heat, double alpha) {
  TORCH_CHECK(heat.dim() == 2 && heat.size(0) == image.size(0) && heat.size(1) == image.size(1), "heat map ",
              heat.sizes(), " does not match the image ", image.sizes());
  const at::Tensor x = heat.to(at::kFloat).clamp(0, 1) * 4;
  // The jet scale: each channel a clamped tent, blue peaking at 1/4, green at 1/2, red at 3/4.
  const at::Tensor rgb = at::stack(
      {(1.5 - (x - 3).abs()).clamp(0, 1), (1.5 - (x - 2).abs()).clamp(0, 1), (1.5 - (x - 1).abs()).clamp(0, 1)}, 2);
  const at::Tensor blended = image.to(at::kFloat) * (1.0 - alpha) + rgb * (255.0 * alpha);
  return blended.round().clamp(0, 255).to(at::kByte);
}

}  // namespace segkit
