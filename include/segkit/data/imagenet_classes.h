#pragma once

#include <string>
#include <vector>

namespace segkit {

/// The 1000 ImageNet class names in torchvision's order (assets/imagenet_classes.txt,
/// compiled in), for the published classifiers' outputs.
const std::vector<std::string>& imagenet_classes();

}  // namespace segkit
