#pragma once

#include <ATen/Tensor.h>

#include "segkit/losses/loss_options.h"

namespace segkit {

/// Loss of N x C x H x W logits against N x H x W class indices. `pixel_weight`
/// (N x H x W, e.g. the U-Net weight map) scales each pixel's cross-entropy or focal
/// term; the mean is then taken over the pixels that are not ignored.
at::Tensor segmentation_loss(const at::Tensor& logits, const at::Tensor& target, const at::Tensor& pixel_weight,
                             const LossOptions& options);

}  // namespace segkit
