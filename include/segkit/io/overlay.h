#pragma once

#include <ATen/Tensor.h>

#include <string>
#include <vector>

#include "segkit/io/palette.h"

namespace segkit {

/// Blends each pixel's class colour over an H x W x 3 uint8 image. `palette` is
/// classes x 4 RGBA (a class whose alpha is 0 is left as it is) or classes x 3 RGB (all
/// coloured), 8-bit; `labels` is H x W (clamped to the palette's classes); `alpha`, the
/// colour's weight, is between 0 and 1.
at::Tensor overlay(const at::Tensor& image, const at::Tensor& labels, const at::Tensor& palette, double alpha = 0.5);

/// A legend panel `height` pixels tall: a swatch and the name of each class, in as many
/// columns as the height needs (H x W x 3 uint8, white background). Bare classes get an
/// outlined empty swatch.
at::Tensor legend_panel(const std::vector<std::string>& names, const at::Tensor& palette, int64_t height);

/// Blends a heat map (H x W float in [0, 1]) over an H x W x 3 uint8 image in the jet
/// colour scale (blue cold, red hot).
at::Tensor heat_overlay(const at::Tensor& image, const at::Tensor& heat, double alpha = 0.5);

}  // namespace segkit
