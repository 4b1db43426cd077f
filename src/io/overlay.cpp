#include "segkit/io/overlay.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "mat_tensor.h"

namespace segkit {

at::Tensor overlay(const at::Tensor& image, const at::Tensor& labels, const at::Tensor& palette, double alpha) {
  TORCH_CHECK(palette.dim() == 2 && (palette.size(1) == 3 || palette.size(1) == 4), "a palette is K x 3 or K x 4");
  const at::Tensor index = labels.to(at::kLong).clamp(0, palette.size(0) - 1).flatten();
  const at::Tensor rgb = palette.slice(1, 0, 3).index_select(0, index).view({labels.size(0), labels.size(1), 3});
  at::Tensor blended = image.to(at::kFloat) * (1.0 - alpha) + rgb.to(at::kFloat) * alpha;
  if (palette.size(1) == 3) return blended.round().to(at::kByte);
  const at::Tensor coloured =
      palette.select(1, 3).index_select(0, index).ne(0).view({labels.size(0), labels.size(1), 1});
  return at::where(coloured, blended.round().to(at::kByte), image);
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
