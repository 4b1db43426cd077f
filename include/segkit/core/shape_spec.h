#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace segkit {

/// What a feature map holds: its channel count and its stride relative to the input.
struct ShapeSpec {
  int64_t channels = 0;
  int64_t stride = 1;
};

/// Feature names to their shapes, as a backbone reports them.
using ShapeMap = std::map<std::string, ShapeSpec>;

}  // namespace segkit
