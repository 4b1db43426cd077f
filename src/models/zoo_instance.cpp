// The instance segmentation entries: torchvision's Faster and Mask R-CNN (module names,
// settings and published class count as torchvision 0.14's builders), and a Mask R-CNN on the
// MobileNetV3-Large FPN backbone that torchvision builds only as a Faster R-CNN.

#include "segkit/models/detection/rpn.h"
#include "segkit/models/segmentors/generalized_rcnn.h"
#include "segkit/models/zoo.h"

namespace segkit {
namespace {

// The first spellings of torchvision's COCO files (the v1 ResNet-50 ones): the pyramid's
// blocks before Conv2dNormActivation ("fpn.inner_blocks.0.weight"), the RPN head's conv and the
// mask head's four convs.
std::vector<std::pair<std::string, std::string>> v1_key_renames() {
  std::vector<std::pair<std::string, std::string>> renames = {
      {R"(^(backbone\.fpn\.(?:inner|layer)_blocks\.\d+)\.(weight|bias)$)", "$1.0.$2"}, kRpnHeadV1Keys};
  renames.insert(renames.end(), kMaskHeadV1Keys.begin(), kMaskHeadV1Keys.end());
  return renames;
}

ZooEntry instance_entry(std::string name, std::string summary, DetectionArchitecture architecture, int64_t parameters) {
  ZooEntry e;
  e.name = std::move(name);
  e.task = Task::kInstance;
  e.summary = std::move(summary);
  e.architecture = std::move(architecture);
  // Pixels scaled to [0, 1] only: the model normalizes and resizes itself (min 800, max 1333).
  e.preprocess.resize = 0;
  e.preprocess.mean = {0.0, 0.0, 0.0};
  e.preprocess.std = {1.0, 1.0, 1.0};
  e.keys.classes = "roi_heads.box_predictor.cls_score.weight";
  e.keys.renames = v1_key_renames();
  e.num_classes = 91;  // COCO's 90 category ids and background
  e.parameters = parameters;
  return e;
}

// torchvision's fasterrcnn_resnet50_fpn / maskrcnn_resnet50_fpn: layer1..layer4 into the pyramid,
// one anchor size per level; the COCO weights' FrozenBatchNorm2d epsilon overwritten with 0.
DetectionArchitecture on_resnet50(bool masks) {
  DetectionArchitecture a;
  a.backbone = "resnet50";
  a.stages = {"layer1", "layer2", "layer3", "layer4"};
  a.anchor_sizes = {{32}, {64}, {128}, {256}, {512}};
  a.masks = masks;
  a.batch_norm_eps = 0.0;
  return a;
}

// torchvision's fasterrcnn_mobilenet_v3_large_fpn: the last two of the stage boundaries
// (block 13, where stride 32 begins, and the last block 16) into the pyramid, five anchor sizes
// on each of its three levels, proposals scoring under 0.05 dropped; FrozenBatchNorm2d's 1e-5
// in place of MobileNetV3's own 0.001.
DetectionArchitecture on_mobilenet_v3_large(bool masks) {
  DetectionArchitecture a;
  a.backbone = "mobilenet_v3_large";
  a.stages = {"13", "16"};
  a.anchor_sizes = std::vector<std::vector<double>>(3, {32, 64, 128, 256, 512});
  a.rpn.score_thresh(0.05);
  a.masks = masks;
  a.batch_norm_eps = 1e-5;
  return a;
}

}  // namespace

void add_instance_entries(Registry<ZooEntry>& zoo) {
  const auto add = [&](ZooEntry entry) {
    const std::string name = entry.name;
    zoo.add(name, std::move(entry));
  };
  add(instance_entry("maskrcnn_resnet50_fpn", "Mask R-CNN, ResNet-50 FPN backbone", on_resnet50(true), 44454513));
  add(instance_entry("fasterrcnn_resnet50_fpn", "Faster R-CNN (boxes only), ResNet-50 FPN backbone", on_resnet50(false),
                     41808406));
  add(instance_entry("maskrcnn_mobilenet_v3_large_fpn",
                     "Mask R-CNN, MobileNetV3-Large FPN backbone (torchvision's light Faster R-CNN with a mask head)",
                     on_mobilenet_v3_large(true), 22056861));
  add(instance_entry("fasterrcnn_mobilenet_v3_large_fpn", "Faster R-CNN (boxes only), MobileNetV3-Large FPN backbone",
                     on_mobilenet_v3_large(false), 19410754));
}

}  // namespace segkit
