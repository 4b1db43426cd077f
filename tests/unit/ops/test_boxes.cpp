// Box arithmetic, NMS, the box coder and the anchor generator against torchvision
// (tools/ops_reference.py).

#include <gtest/gtest.h>

#include "reference_tensors.h"
#include "segkit/models/detection/anchor_generator.h"
#include "segkit/ops/box_coder.h"
#include "segkit/ops/boxes.h"
#include "segkit/ops/nms.h"

namespace segkit::testing {
namespace {

std::string case_name(int k) { return "case" + std::to_string(k) + "."; }

TEST(Nms, KeepsWhatTorchvisionKeeps) {
  const ReferenceTensors reference("ops/nms.pth");
  int cases = 0;
  for (int k = 0; reference.has(case_name(k) + "boxes"); ++k, ++cases) {
    SCOPED_TRACE(case_name(k));
    const std::string c = case_name(k);
    const at::Tensor kept =
        ops::nms(reference[c + "boxes"], reference[c + "scores"], reference[c + "threshold"].item<double>());
    EXPECT_TRUE(at::equal(kept, reference[c + "keep"])) << kept << "\nvs\n" << reference[c + "keep"];
  }
  EXPECT_EQ(cases, 8);  // thresholds, tied scores, zero-area boxes, double, duplicates, empty
}

TEST(Nms, BatchedKeepsWhatTorchvisionKeepsInBothStrategies) {
  const ReferenceTensors reference("ops/batched_nms.pth");
  int cases = 0;
  for (int k = 0; reference.has(case_name(k) + "boxes"); ++k, ++cases) {
    SCOPED_TRACE(case_name(k));
    const std::string c = case_name(k);
    const at::Tensor kept = ops::batched_nms(reference[c + "boxes"], reference[c + "scores"], reference[c + "idxs"],
                                             reference[c + "threshold"].item<double>());
    EXPECT_TRUE(at::equal(kept, reference[c + "keep"])) << kept.sizes() << " vs " << reference[c + "keep"].sizes();
  }
  EXPECT_EQ(cases, 3);
  // Categories never suppress each other: two identical boxes of two categories both stay.
  const at::Tensor twins = at::tensor({0.f, 0.f, 10.f, 10.f, 0.f, 0.f, 10.f, 10.f}).view({2, 4});
  EXPECT_EQ(ops::batched_nms(twins, at::tensor({0.9f, 0.8f}), at::tensor({0L, 1L}), 0.5).size(0), 2);
  EXPECT_EQ(ops::batched_nms(twins, at::tensor({0.9f, 0.8f}), at::tensor({1L, 1L}), 0.5).size(0), 1);
  EXPECT_EQ(ops::batched_nms(at::zeros({0, 4}), at::zeros({0}), at::zeros({0}, at::kLong), 0.5).size(0), 0);
}

TEST(Nms, RefusesMismatchedInputs) {
  EXPECT_THROW(ops::nms(at::zeros({3, 4}), at::zeros({2}), 0.5), c10::Error);
  EXPECT_THROW(ops::nms(at::zeros({3, 5}), at::zeros({3}), 0.5), c10::Error);
  EXPECT_THROW(ops::nms(at::zeros({3, 4}), at::zeros({3}, at::kDouble), 0.5), c10::Error);
  EXPECT_THROW(ops::batched_nms(at::zeros({3, 4}), at::zeros({3}), at::zeros({2}, at::kLong), 0.5), c10::Error);
}

TEST(Boxes, IouAreaClippingAndSmallBoxesAsTorchvision) {
  const ReferenceTensors reference("ops/boxes.pth");
  EXPECT_TRUE(near(ops::box_iou(reference["boxes1"], reference["boxes2"]), reference["iou"], 1e-6));
  EXPECT_TRUE(near(ops::box_area(reference["boxes1"]), reference["area"], 1e-4));
  EXPECT_TRUE(at::equal(ops::clip_boxes_to_image(reference["boxes1"], 41, 53), reference["clipped"]));
  EXPECT_TRUE(at::equal(ops::remove_small_boxes(reference["boxes1"], 6.0), reference["small_kept"]));
  const at::Tensor rois = ops::boxes_to_rois({at::ones({2, 4}), at::zeros({0, 4}), at::full({1, 4}, 3.f)});
  EXPECT_TRUE(at::equal(rois.select(1, 0), at::tensor({0.f, 0.f, 2.f})));
  EXPECT_THROW(ops::box_iou(at::zeros({2, 3}), at::zeros({2, 4})), c10::Error);
}

TEST(BoxCoder, EncodesAndDecodesAsTorchvisionWithTheScaleClamp) {
  const ReferenceTensors reference("ops/box_coder.pth");
  const std::pair<const char*, std::array<double, 4>> coders[] = {{"unit", {1, 1, 1, 1}}, {"box_head", {10, 10, 5, 5}}};
  for (const auto& [name, weights] : coders) {
    SCOPED_TRACE(name);
    const ops::BoxCoder coder(weights);
    EXPECT_TRUE(near(coder.encode(reference["boxes"], reference["references"]),
                     reference[std::string(name) + ".encoded"], 1e-5));
    EXPECT_TRUE(near(coder.decode(reference["codes"], reference["references"]),
                     reference[std::string(name) + ".decoded"], 1e-3));  // pixels, up to 62.5x a 300-px box
    // decode undoes encode
    EXPECT_TRUE(near(coder.decode(coder.encode(reference["boxes"], reference["references"]), reference["references"]),
                     reference["boxes"], 1e-3));
  }
  EXPECT_THROW(ops::BoxCoder({1, 1, 1, 1}).decode(at::zeros({3, 5}), at::zeros({3, 4})), c10::Error);
}

TEST(AnchorGenerator, MakesTorchvisionsAnchors) {
  const ReferenceTensors reference("ops/anchors.pth");
  const std::pair<const char*, AnchorGenerator> generators[] = {
      {"resnet_fpn", AnchorGenerator::resnet_fpn()},
      {"mobilenet", AnchorGenerator(std::vector<std::vector<double>>(3, {32, 64, 128, 256, 512}),
                                    std::vector<std::vector<double>>(3, {0.5, 1.0, 2.0}))}};
  for (const auto& [name, generator] : generators) {
    SCOPED_TRACE(name);
    const std::string n = name;
    const at::Tensor sizes = reference[n + ".feature_sizes"];
    std::vector<std::pair<int64_t, int64_t>> feature_sizes;
    for (int64_t level = 0; level < sizes.size(0); ++level) {
      feature_sizes.emplace_back(sizes[level][0].item<int64_t>(), sizes[level][1].item<int64_t>());
    }
    const at::Tensor input = reference[n + ".input_size"];
    const at::Tensor anchors = generator.anchors({input[0].item<int64_t>(), input[1].item<int64_t>()}, feature_sizes);
    EXPECT_TRUE(at::equal(anchors, reference[n + ".anchors"]));
  }
  EXPECT_EQ(AnchorGenerator::resnet_fpn().num_anchors_per_location(), std::vector<int64_t>(5, 3));
}

}  // namespace
}  // namespace segkit::testing
