#pragma once

// What segkit records beside the weights of every checkpoint it writes, so that the file
// alone says how to run it: the zoo model and its options, the classes (count, names,
// colours), the mask value training ignored and the preprocessing. Stored as JSON where
// PyTorch's readers ignore it (see save_state_dict), so torch.load and load_state_dict in
// Python see the plain state dict.

#include <ATen/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "segkit/core/checkpoint.h"
#include "segkit/data/preprocess.h"
#include "segkit/models/segmentors/unet.h"

namespace segkit {

struct CheckpointInfo {
  std::string model;  ///< zoo name
  std::string task;   ///< "semantic", "classification"
  int64_t num_classes = 0;
  /// A U-Net's geometry (a checkpoint's shapes cannot tell its upsampling).
  std::optional<UNetOptions> unet;
  std::vector<std::string> class_names;  ///< empty: unnamed
  at::Tensor palette;                    ///< classes x 4 RGBA uint8; undefined: the default
  std::optional<int64_t> ignore_index;   ///< the mask value training ignored
  std::optional<Preprocess> preprocess;  ///< what an image goes through before the network

  std::string to_json() const;
  /// Throws InputError naming `path` for malformed text.
  static CheckpointInfo from_json(const std::string& text, const std::string& path);
};

/// What `path` records; nullopt for files written elsewhere (torchvision's, torch.save's).
std::optional<CheckpointInfo> read_checkpoint_info(const std::string& path);

/// Writes a state dict with its info (torch.save's zip format unless the name ends in
/// ".safetensors"), atomically.
void save_checkpoint(const StateDict& state, const CheckpointInfo& info, const std::string& path);

}  // namespace segkit
