#pragma once

// AlexNet (Krizhevsky et al. 2012) and VGG (Simonyan and Zisserman 2015), with and
// without BatchNorm, as torchvision builds their `features`: plain chains of
// convolutions (+ BatchNorm), ReLU and max pooling, modules numbered as torchvision's
// Sequential numbers them. Stages are named by the index of each ReLU and each max
// pooling (vgg16's pools: "4", "9", "16", "23", "30").

#include "segkit/models/backbones/backbone.h"

namespace segkit {

/// alexnet, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn.
void add_plain_convnet_backbones(Registry<BackboneBuilder>& registry);

}  // namespace segkit
