#pragma once

// DenseNet (Huang et al. 2017) as torchvision builds densenet121/161/169/201's
// `features`: stages "relu0" (stride 2), "pool0" (4), "denseblock1" .. "denseblock4"
// with "transition1" .. "transition3" between them, and "norm5" (before its ReLU,
// which the classifier applies). Inference writes each dense layer's output into one
// preallocated buffer per block instead of concatenating all earlier outputs again
// for every layer.

#include "segkit/models/backbones/backbone.h"

namespace segkit {

/// densenet121, densenet161, densenet169, densenet201.
void add_densenet_backbones(Registry<BackboneBuilder>& registry);

}  // namespace segkit
