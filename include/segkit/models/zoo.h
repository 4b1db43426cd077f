#pragma once

// The named models. An entry is data: its task, the parts it is composed of and their
// options, the preprocessing its published weights expect, how its checkpoints name
// things, and its parameter count (so that listing the zoo builds nothing).

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "segkit/core/registry.h"
#include "segkit/data/preprocess.h"
#include "segkit/models/backbones/backbone.h"
#include "segkit/models/detection/rpn.h"
#include "segkit/models/heads/head.h"
#include "segkit/models/model.h"
#include "segkit/models/segmentors/unet.h"

namespace segkit {

/// A head of a composed model: the module it is registered as, its registry type and config
/// (the class count is filled in at build time).
struct HeadSpec {
  std::string module;
  std::string type;
  HeadConfig config;
};

/// A backbone with a head and optional auxiliary heads: a semantic EncoderDecoder or an
/// ImageClassifier, by the entry's task.
struct ComposedArchitecture {
  std::string backbone;  ///< backbone registry name
  BackboneOptions backbone_options;
  /// Where the backbone's modules sit in a checkpoint: "backbone" (torchvision's
  /// segmentation models), "features" (VGG, MobileNet, EfficientNet, DenseNet) or ""
  /// (ResNet, GoogLeNet: its stages at the top level).
  std::string backbone_module;
  HeadSpec head;
  /// Built when a checkpoint holds them or training asks for them.
  std::vector<HeadSpec> aux;
};

/// Faster or Mask R-CNN: a backbone's stages into a feature pyramid, the region proposal
/// network over anchors on every level, the RoI heads (boxes, and masks when `masks`).
struct DetectionArchitecture {
  std::string backbone;             ///< backbone registry name ("resnet50", "mobilenet_v3_large")
  std::vector<std::string> stages;  ///< the stages that feed the pyramid, finest first
  /// Anchor sizes per pyramid level, the extra "pool" level included; every level has the same ratios.
  std::vector<std::vector<double>> anchor_sizes;
  std::vector<double> aspect_ratios{0.5, 1.0, 2.0};
  RPNOptions rpn;
  bool masks = true;
  /// The backbone's BatchNorm epsilon in the published weights: torchvision's first COCO files
  /// (the ResNet-50 ones) were made with 0, its later ones with FrozenBatchNorm2d's 1e-5.
  double batch_norm_eps = 1e-5;
};

/// What an entry builds: a composed model, a detection model, or a model family with its own options.
using Architecture = std::variant<ComposedArchitecture, UNetOptions, DetectionArchitecture>;

/// How an entry's checkpoints name things.
struct CheckpointKeys {
  /// The key whose first dimension is the class count.
  std::string classes;
  /// Older spellings rewritten on load, as (ECMAScript regex, replacement): DenseNet's
  /// published files say "denselayer1.norm.1" for "denselayer1.norm1".
  std::vector<std::pair<std::string, std::string>> renames;
};

struct ZooEntry {
  std::string name;
  Task task = Task::kSemantic;
  std::string summary;
  Architecture architecture;
  /// What the published weights expect of an image.
  Preprocess preprocess;
  CheckpointKeys keys;
  /// The published weights' class count, and the parameter count at it without aux heads.
  int64_t num_classes = 0;
  int64_t parameters = 0;
  /// Weight of the aux heads' losses in training (torchvision's 0.4; GoogLeNet's paper 0.3).
  double aux_weight = 0.4;
};

/// Every model segkit can build, by name, in a stable order.
const Registry<ZooEntry>& model_zoo();

/// The entry named `name`; throws InputError listing the known names otherwise.
const ZooEntry& find_model(const std::string& name);

/// What varies between builds of one entry.
struct BuildOptions {
  int64_t num_classes = 0;  ///< 0: the entry's
  bool aux = false;         ///< build the aux heads
};

/// Builds an entry's model with fresh (PyTorch-default) weights.
Model build_model(const ZooEntry& entry, const BuildOptions& options = {});

/// The parameters of `model`, as PyTorch counts them.
int64_t count_parameters(const torch::nn::Module& model);

/// Adds the semantic entries (torchvision's segmentation models, U-Net).
void add_semantic_entries(Registry<ZooEntry>& zoo);
/// Adds the classification entries (torchvision's ImageNet classifiers, SE-ResNet-50).
void add_classification_entries(Registry<ZooEntry>& zoo);
/// Adds the instance entries (torchvision's Faster and Mask R-CNN).
void add_instance_entries(Registry<ZooEntry>& zoo);

}  // namespace segkit
