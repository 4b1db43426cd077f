#pragma once

#include <ATen/Tensor.h>

namespace segkit {

/// The PASCAL VOC colour palette: class k's RGB colour, for any k (k x 3 uint8).
at::Tensor voc_palette(int64_t num_classes);

/// Blends each pixel's class colour over an H x W x 3 uint8 image; class 0
/// (background) is left as it is. `labels` is H x W.
at::Tensor overlay(const at::Tensor& image, const at::Tensor& labels, const at::Tensor& palette, double alpha = 0.5);

/// Blends a heat map (H x W float in [0, 1]) over an H x W x 3 uint8 image in the jet
/// colour scale (blue cold, red hot).
at::Tensor heat_overlay(const at::Tensor& image, const at::Tensor& heat, double alpha = 0.5);

}  // namespace segkit
