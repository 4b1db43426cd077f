#pragma once

// Charts drawn to images (H x W x 3 uint8 RGB), for training reports: line charts of losses
// and metrics per epoch, and confusion matrices.

#include <ATen/Tensor.h>

#include <string>
#include <vector>

namespace segkit {

struct Series {
  std::string name;
  std::vector<double> x, y;  ///< points; non-finite y values are left out
};

/// Lines over a shared x axis (labelled `x_label`), with axes, ticks, a title and a legend.
at::Tensor line_chart(const std::string& title, const std::vector<Series>& series, const std::string& x_label,
                      int64_t width = 640, int64_t height = 360);

/// A confusion matrix (classes x classes counts, rows the truth): each row normalized to the
/// share of its true pixels or images, darker for more, the shares written in the cells where
/// they fit; rows named by `names` (else their index), columns by index.
at::Tensor confusion_chart(const at::Tensor& confusion, const std::vector<std::string>& names);

}  // namespace segkit
