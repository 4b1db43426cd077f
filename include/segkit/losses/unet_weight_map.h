#pragma once

#include <ATen/Tensor.h>

namespace segkit {

struct WeightMapOptions {
  /// Border term: w0 * exp(-(d1 + d2)^2 / (2 sigma^2)), the U-Net paper's values.
  double w0 = 10;
  double sigma = 5;
  /// Class-frequency balancing term w_c (inverse frequency, mean 1 over the pixels).
  bool balance = true;
};

/// The U-Net paper's weight map (eq. 2) for an H x W class-index mask: w_c(x) plus, on
/// background pixels (class 0), the border term, where d1 and d2 are the distances to
/// the nearest and second nearest object (a connected component of non-background,
/// non-ignored pixels). Ignored pixels weigh 0.
at::Tensor unet_weight_map(const at::Tensor& mask, int64_t num_classes, int64_t ignore_index,
                           const WeightMapOptions& options);

}  // namespace segkit
