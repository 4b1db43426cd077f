#pragma once

// The named models: one entry per name, mapping it to a builder and to the
// preprocessing its published weights expect.

#include <functional>
#include <string>
#include <vector>

#include "segkit/models/segmentors/encoder_decoder.h"

namespace segkit {

struct ModelConfig {
  int64_t num_classes = 21;
  /// Build the aux head (the official checkpoints have one; inference never runs it).
  bool aux = false;
};

struct ZooEntry {
  std::string name;
  std::string summary;
  /// Short side the published weights were evaluated at (torchvision's resize_size).
  int64_t resize = 520;
  /// The state-dict key whose first dimension is the class count.
  std::string classes_key;
  /// Whether torchvision's published checkpoint carries an aux head.
  bool has_aux_head = false;
  std::function<EncoderDecoder(const ModelConfig&)> build;
};

/// Every model segkit can build, in a stable order.
const std::vector<ZooEntry>& model_zoo();

/// The entry named `name`; throws InputError listing the known names otherwise.
const ZooEntry& find_model(const std::string& name);

}  // namespace segkit
