#include "segkit/io/chart.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "mat_tensor.h"

namespace segkit {
namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
const cv::Scalar kInk(40, 40, 40), kGrid(225, 225, 225), kWhite(255, 255, 255);
// Matplotlib's tab10 colours (RGB: the image is drawn in RGB order).
const cv::Scalar kColours[] = {{31, 119, 180}, {255, 127, 14},  {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
                               {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

std::string number(double v) {
  std::ostringstream out;
  const double a = std::abs(v);
  if (a != 0 && (a < 1e-3 || a >= 1e5)) {
    out << std::scientific << std::setprecision(1) << v;
  } else {
    out << std::setprecision(a >= 100 ? 0 : a >= 1 ? 2 : 3) << std::fixed << v;
  }
  return out.str();
}

void text(cv::Mat& image, const std::string& s, int x, int y, double scale = 0.4, const cv::Scalar& colour = kInk) {
  cv::putText(image, s, cv::Point(x, y), kFont, scale, colour, 1, cv::LINE_AA);
}

int text_width(const std::string& s, double scale = 0.4) {
  int baseline = 0;
  return cv::getTextSize(s, kFont, scale, 1, &baseline).width;
}

// Tick positions covering [lo, hi] at a round step (1, 2 or 5 times a power of ten).
std::vector<double> ticks(double lo, double hi, int target) {
  const double raw = (hi - lo) / std::max(1, target);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * power;
    if (step >= raw) break;
  }
  std::vector<double> result;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    result.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);  // no "-0.000"
  }
  return result;
}

}  // namespace

at::Tensor line_chart(const std::string& title, const std::vector<Series>& series, const std::string& x_label,
                      int64_t width, int64_t height) {
  cv::Mat image(static_cast<int>(height), static_cast<int>(width), CV_8UC3, kWhite);
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      x_lo = std::min(x_lo, s.x[i]);
      x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, s.y[i]);
      y_hi = std::max(y_hi, s.y[i]);
    }
  }
  text(image, title, 12, 20, 0.5);
  if (!std::isfinite(x_lo)) {
    text(image, "no data yet", static_cast<int>(width) / 2 - 40, static_cast<int>(height) / 2);
    return to_tensor(image);
  }
  if (x_hi - x_lo < 1e-12) x_hi = x_lo + 1;
  if (y_hi - y_lo < 1e-12) {
    y_lo -= 0.5 * std::max(1e-3, std::abs(y_lo));
    y_hi += 0.5 * std::max(1e-3, std::abs(y_hi));
  }
  const double pad = 0.05 * (y_hi - y_lo);
  y_lo -= pad;
  y_hi += pad;
  const std::vector<double> y_ticks = ticks(y_lo, y_hi, 5);
  int left = 0;
  for (double t : y_ticks) left = std::max(left, text_width(number(t)));
  left += 18;
  const int right = static_cast<int>(width) - 16, top = 34, bottom = static_cast<int>(height) - 40;
  const auto px = [&](double x) {
    return left + static_cast<int>(std::lround((x - x_lo) / (x_hi - x_lo) * (right - left)));
  };
  const auto py = [&](double y) {
    return bottom - static_cast<int>(std::lround((y - y_lo) / (y_hi - y_lo) * (bottom - top)));
  };
  for (double t : y_ticks) {
    cv::line(image, {left, py(t)}, {right, py(t)}, kGrid, 1);
    text(image, number(t), left - 8 - text_width(number(t)), py(t) + 4);
  }
  for (double t : ticks(x_lo, x_hi, 8)) {
    if (std::abs(t - std::round(t)) > 1e-9) continue;  // epochs are whole numbers
    cv::line(image, {px(t), bottom}, {px(t), bottom + 4}, kInk, 1);
    text(image, number(t).substr(0, number(t).find('.')), px(t) - 6, bottom + 18);
  }
  cv::rectangle(image, cv::Point(left, top), cv::Point(right, bottom), kInk, 1);
  text(image, x_label, (left + right) / 2 - text_width(x_label) / 2, static_cast<int>(height) - 6);
  // The legend, on white, in the corner of the plot its lines cross least.
  int legend_width = 0;
  for (const auto& one : series) legend_width = std::max(legend_width, text_width(one.name));
  const int box_width = legend_width + 26 + 20, box_height = 16 * static_cast<int>(series.size()) + 6;
  cv::Rect legend_box;
  size_t fewest = std::numeric_limits<size_t>::max();
  for (const cv::Point corner :
       {cv::Point(right - 8 - box_width, top + 4), cv::Point(right - 8 - box_width, bottom - 4 - box_height),
        cv::Point(left + 8, top + 4), cv::Point(left + 8, bottom - 4 - box_height)}) {
    const cv::Rect box(corner.x, corner.y, box_width, box_height);
    size_t covered = 0;
    for (const auto& one : series) {
      for (size_t i = 0; i + 1 < one.x.size() && i + 1 < one.y.size(); ++i) {
        if (!std::isfinite(one.y[i]) || !std::isfinite(one.y[i + 1])) continue;
        // Sample each segment: how much of the lines the box would hide.
        for (double t = 0; t <= 1.0; t += 0.1) {
          const cv::Point p(px(one.x[i] + t * (one.x[i + 1] - one.x[i])), py(one.y[i] + t * (one.y[i + 1] - one.y[i])));
          covered += box.contains(p);
        }
      }
    }
    if (covered < fewest) {
      fewest = covered;
      legend_box = box;
    }
  }
  const int legend_left = legend_box.x + 6;
  int legend_y = legend_box.y + 12;
  for (size_t k = 0; k < series.size(); ++k) {
    const cv::Scalar colour = kColours[k % (sizeof(kColours) / sizeof(kColours[0]))];
    std::vector<cv::Point> points;
    for (size_t i = 0; i < series[k].x.size() && i < series[k].y.size(); ++i) {
      if (std::isfinite(series[k].y[i])) points.emplace_back(px(series[k].x[i]), py(series[k].y[i]));
    }
    if (points.size() > 1) cv::polylines(image, points, false, colour, 2, cv::LINE_AA);
    for (const auto& p : points) cv::circle(image, p, 2, colour, cv::FILLED, cv::LINE_AA);
  }
  cv::rectangle(image, legend_box, kWhite, cv::FILLED);
  cv::rectangle(image, legend_box, kGrid, 1);
  for (size_t k = 0; k < series.size(); ++k) {
    const cv::Scalar colour = kColours[k % (sizeof(kColours) / sizeof(kColours[0]))];
    cv::line(image, {legend_left, legend_y - 4}, {legend_left + 20, legend_y - 4}, colour, 2, cv::LINE_AA);
    text(image, series[k].name, legend_left + 26, legend_y);
    legend_y += 16;
  }
  return to_tensor(image);
}

at::Tensor confusion_chart(const at::Tensor& confusion, const std::vector<std::string>& names) {
  const int64_t k = confusion.size(0);
  const int cell = static_cast<int>(std::clamp<int64_t>(480 / std::max<int64_t>(k, 1), 6, 48));
  int label_width = 0;
  std::vector<std::string> labels;
  for (int64_t i = 0; i < k; ++i) {
    labels.push_back(i < static_cast<int64_t>(names.size()) ? names[static_cast<size_t>(i)] : std::to_string(i));
    label_width = std::max(label_width, text_width(labels.back()));
  }
  const int left = label_width + 16, top = 50;
  const int size = cell * static_cast<int>(k);
  cv::Mat image(top + size + 30, std::max(left + size + 16, 360), CV_8UC3, kWhite);
  text(image, "confusion matrix: rows truth, columns prediction (share of each row)", 8, 18, 0.4);
  const at::Tensor counts = confusion.to(at::kDouble);
  const at::Tensor totals = counts.sum(1, /*keepdim=*/true).clamp_min(1);
  const at::Tensor shares = (counts / totals).contiguous();
  const auto s = shares.accessor<double, 2>();
  for (int64_t i = 0; i < k; ++i) {
    text(image, labels[static_cast<size_t>(i)], 8, top + static_cast<int>(i) * cell + cell / 2 + 4);
    if (cell >= 14) text(image, std::to_string(i), left + static_cast<int>(i) * cell + 2, top - 6, 0.35);
    for (int64_t j = 0; j < k; ++j) {
      const double v = s[i][j];
      // White to a deep blue.
      const cv::Scalar colour(255 - v * (255 - 8), 255 - v * (255 - 69), 255 - v * (255 - 148));
      const cv::Rect box(left + static_cast<int>(j) * cell, top + static_cast<int>(i) * cell, cell, cell);
      cv::rectangle(image, box, colour, cv::FILLED);
      if (cell >= 32) {
        std::ostringstream share;
        share << std::fixed << std::setprecision(2) << v;
        text(image, share.str(), box.x + 3, box.y + cell / 2 + 4, 0.33, v > 0.5 ? kWhite : kInk);
      }
    }
  }
  cv::rectangle(image, cv::Rect(left, top, size, size), kInk, 1);
  return to_tensor(image);
}

}  // namespace segkit
