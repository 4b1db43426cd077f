#pragma once

#include <optional>
#include <string>

#include "segkit/core/state_dict.h"
#include "segkit/models/zoo.h"

namespace segkit {

struct LoadedModel {
  Segmentor model;
  int64_t num_classes = 0;
  LoadReport report;  ///< what a non-strict load skipped
};

/// Builds zoo model `name` and loads `weights` into it. The class count and the aux
/// head come from the checkpoint unless `num_classes` is given; a checkpoint of another
/// class count is an error naming both counts unless `strict` is false, in which case
/// everything else is loaded and the classifier keeps its fresh initialization.
/// `unet` holds the U-Net choices a checkpoint cannot show (nearest vs bilinear upsampling).
LoadedModel load_model(const std::string& name, const std::string& weights, std::optional<int64_t> num_classes,
                       bool strict, const UNetOptions& unet = {});

}  // namespace segkit
