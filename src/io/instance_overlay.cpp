#include "segkit/io/instance_overlay.h"

#include <ATen/ATen.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "segkit/io/overlay.h"
#include "segkit/io/palette.h"

namespace segkit {

at::Tensor draw_instances(const at::Tensor& image, const at::Tensor& instance_map, const at::Tensor& boxes,
                          const std::vector<std::string>& captions, double alpha) {
  TORCH_CHECK(image.dim() == 3 && image.size(2) == 3 && image.scalar_type() == at::kByte,
              "draw_instances: expected an H x W x 3 uint8 image");
  const int64_t count = boxes.size(0);
  // Instance k's colour: VOC's colour k (its first is black, for the background).
  const at::Tensor colours = voc_palette(std::max<int64_t>(count + 1, 2)).slice(1, 0, 3).contiguous();
  at::Tensor palette = at::cat({colours, at::full({colours.size(0), 1}, 255, at::kByte)}, 1);
  palette[0][3] = 0;  // the background stays as it is
  at::Tensor drawn = overlay(image, instance_map, palette, alpha).contiguous();
  cv::Mat mat(static_cast<int>(drawn.size(0)), static_cast<int>(drawn.size(1)), CV_8UC3, drawn.data_ptr());
  const at::Tensor b = boxes.to(at::kDouble).contiguous();
  const auto c = colours.accessor<uint8_t, 2>();
  constexpr double kScale = 0.45;
  for (int64_t k = 0; k < count; ++k) {
    const cv::Scalar colour(c[k + 1][0], c[k + 1][1], c[k + 1][2]);  // the tensor is RGB; so is the Mat here
    const cv::Point top_left(static_cast<int>(std::floor(b[k][0].item<double>())),
                             static_cast<int>(std::floor(b[k][1].item<double>())));
    const cv::Point bottom_right(static_cast<int>(std::ceil(b[k][2].item<double>())),
                                 static_cast<int>(std::ceil(b[k][3].item<double>())));
    cv::rectangle(mat, top_left, bottom_right, colour, 1);
    if (static_cast<size_t>(k) >= captions.size() || captions[k].empty()) continue;
    int baseline = 0;
    const cv::Size text = cv::getTextSize(captions[k], cv::FONT_HERSHEY_SIMPLEX, kScale, 1, &baseline);
    // Above the box, or inside it where the box touches the top.
    const int y = top_left.y - text.height - baseline - 2 >= 0 ? top_left.y : top_left.y + text.height + baseline + 2;
    const cv::Point corner(std::max(0, top_left.x), y);
    cv::rectangle(mat, cv::Point(corner.x, corner.y - text.height - baseline - 2),
                  cv::Point(corner.x + text.width + 2, corner.y), colour, cv::FILLED);
    const bool light = 0.299 * c[k + 1][0] + 0.587 * c[k + 1][1] + 0.114 * c[k + 1][2] > 140;
    cv::putText(mat, captions[k], cv::Point(corner.x + 1, corner.y - baseline - 1), cv::FONT_HERSHEY_SIMPLEX, kScale,
                light ? cv::Scalar(0, 0, 0) : cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
  }
  return drawn;
}

}  // namespace segkit
