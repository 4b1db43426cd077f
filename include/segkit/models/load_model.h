#pragma once

#include <optional>
#include <string>

#include "segkit/core/state_dict.h"
#include "segkit/models/checkpoint_info.h"
#include "segkit/models/zoo.h"

namespace segkit {

struct LoadedModel {
  Model model;
  const ZooEntry* entry = nullptr;
  int64_t num_classes = 0;
  LoadReport report;  ///< what a non-strict load skipped
  /// What the checkpoint records, if segkit wrote it.
  std::optional<CheckpointInfo> info;
  /// The preprocessing it was trained with (recorded), or the zoo entry's.
  Preprocess preprocess;
};

struct LoadOptions {
  /// Default: read from the checkpoint.
  std::optional<int64_t> num_classes;
  /// Strict: every key must fit. Otherwise what fits is loaded (another class count, say)
  /// and the rest keeps its fresh initialization.
  bool strict = true;
  /// U-Net with resize upsampling: nearest or bilinear (a checkpoint's shapes cannot tell
  /// them apart). Default: what the checkpoint records, else bilinear.
  std::optional<Upsampling> unet_upsampling;
  /// Detection models: the backbone's BatchNorm epsilon. Default: the entry's, that of its
  /// published weights (0 for torchvision's first COCO files and the models fine-tuned from them).
  std::optional<double> batch_norm_eps;
};

/// The zoo model to build for `weights`: `requested` (a --model flag; may be empty) or the
/// one the checkpoint records. Throws InputError naming both when they disagree, and when
/// neither says (a file segkit did not write, with no --model).
std::string resolve_model_name(const std::string& requested, const std::string& weights);

/// Builds zoo model `name` (empty: the one `weights` records) as `weights` describes it
/// (class count, aux heads, U-Net geometry) and loads the weights, after the entry's key
/// renames. A checkpoint of another class count is an error naming both counts unless
/// loading non-strictly.
LoadedModel load_model(const std::string& name, const std::string& weights, const LoadOptions& options = {});

/// The entry's checkpoint-key renames applied to a state dict.
StateDict apply_key_renames(const ZooEntry& entry, StateDict state);

/// The backbone tensors of a checkpoint, renamed for `module`: a classifier's or a
/// segmentation model's checkpoint (whatever its backbone prefix: "backbone.",
/// "features." or none) feeds the backbone of another model whose backbone parameters
/// are named under `prefix`. Keys that fit no backbone parameter are left out.
StateDict backbone_state(const StateDict& checkpoint, const torch::nn::Module& module, const std::string& prefix,
                         const std::vector<std::string>& head_modules);

/// Loads the backbone part of `weights` into `model` (for training from a backbone trained
/// elsewhere: torchvision's ImageNet files, a segmentation model's backbone); throws if
/// nothing fits. Returns how many tensors were loaded.
int64_t load_backbone_weights(ModelImpl& model, const ZooEntry& entry, const std::string& weights);

}  // namespace segkit
