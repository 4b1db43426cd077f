#pragma once

// A picture of an image's instances: each instance's mask blended in its own colour over the
// image, its box outlined in that colour, and a label "name 0.97" above the box.

#include <ATen/Tensor.h>

#include <string>
#include <vector>

namespace segkit {

/// `image`: H x W x 3 uint8; `instance_map`: H x W, 0 background and k for instance k (1-based,
/// as instance_map() gives it); `boxes`: K x 4 (x1, y1, x2, y2); `captions`: K texts.
/// Colours cycle through VOC's palette by instance.
at::Tensor draw_instances(const at::Tensor& image, const at::Tensor& instance_map, const at::Tensor& boxes,
                          const std::vector<std::string>& captions, double alpha = 0.5);

}  // namespace segkit
