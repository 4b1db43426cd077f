#pragma once

// MobileNetV2 (Sandler et al. 2018) as torchvision builds mobilenet_v2's `features`:
// stages "0" (stem) .. "17" (inverted residual blocks) and "18" (1x1 to 1280 channels).

#include "segkit/models/backbones/backbone.h"

namespace segkit {

/// mobilenet_v2.
void add_mobilenet_v2_backbones(Registry<BackboneBuilder>& registry);

}  // namespace segkit
