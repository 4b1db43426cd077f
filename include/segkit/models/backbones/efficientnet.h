#pragma once

// EfficientNet B0-B7 (Tan and Le 2019) as torchvision builds efficientnet_b*'s
// `features`: stages "0" (stem), "1" .. "7" (MBConv stages, widths and depths scaled
// per variant) and "8" (1x1 to 4x the last stage's channels). Stochastic depth grows
// linearly to 0.2 over the blocks, in training only.

#include "segkit/models/backbones/backbone.h"

namespace segkit {

/// efficientnet_b0 .. efficientnet_b7.
void add_efficientnet_backbones(Registry<BackboneBuilder>& registry);

}  // namespace segkit
