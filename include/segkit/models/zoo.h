#pragma once

// The named models: one entry per name, mapping it to a builder and to the
// preprocessing its published weights expect.

#include <functional>
#include <string>
#include <vector>

#include "segkit/core/checkpoint.h"
#include "segkit/data/preprocess.h"
#include "segkit/models/segmentors/segmentor.h"
#include "segkit/models/segmentors/unet.h"

namespace segkit {

struct ModelConfig {
  int64_t num_classes = 21;
  /// Build the aux head (the official checkpoints have one; inference never runs it).
  bool aux = false;
  /// The U-Net's architecture (its class count is num_classes; padding comes from the entry).
  UNetOptions unet;
};

struct ZooEntry {
  std::string name;
  std::string summary;
  /// What the weights expect of an image (torchvision: short side 520, ImageNet statistics).
  Preprocess preprocess;
  /// The state-dict key whose first dimension is the class count.
  std::string classes_key;
  /// Whether torchvision's published checkpoint carries an aux head.
  bool has_aux_head = false;
  std::function<Segmentor(const ModelConfig&)> build;
  /// Reads architecture choices a checkpoint implies (U-Net: depth, width, channels); may be empty.
  std::function<void(const StateDict&, ModelConfig&)> configure = nullptr;
};

/// Every model segkit can build, in a stable order.
const std::vector<ZooEntry>& model_zoo();

/// The entry named `name`; throws InputError listing the known names otherwise.
const ZooEntry& find_model(const std::string& name);

}  // namespace segkit
