// Mask R-CNN's box and mask heads against torchvision's RoIHeads at its test settings (score
// 0.05, NMS 0.5, 100 detections) on the same pyramid, proposals and random weights
// (tools/detection_reference.py), from both of torchvision's mask-head key spellings.

#include <gtest/gtest.h>

#include <torch/torch.h>

#include <regex>

#include "reference_tensors.h"
#include "segkit/core/state_dict.h"
#include "segkit/models/detection/roi_heads.h"

namespace segkit::testing {
namespace {

TEST(RoIHeads, DetectAndSegmentAsTorchvision) {
  const ReferenceTensors pyramid("detection/rpn/tensors.pth");
  const ReferenceTensors reference("detection/roi_heads/tensors.pth");
  std::vector<at::Tensor> features;
  for (const char* level : {"0", "1", "2", "3"}) features.push_back(pyramid[std::string("pyramid.") + level]);
  const at::Tensor sizes = pyramid["image_sizes"];
  const std::vector<std::pair<int64_t, int64_t>> image_sizes = {
      {sizes[0][0].item<int64_t>(), sizes[0][1].item<int64_t>()},
      {sizes[1][0].item<int64_t>(), sizes[1][1].item<int64_t>()}};
  const std::vector<at::Tensor> proposals = {reference["proposals.0"], reference["proposals.1"]};
  for (const std::string file : {"weights.pth", "weights_v1.pth"}) {
    SCOPED_TRACE(file);
    RoIHeads heads(RoIHeadsOptions(/*num_classes=*/5));
    StateDict state = load_state_dict(fixture("detection/roi_heads/" + file));
    for (auto& entry : state) {  // the v1 spelling, renamed as a zoo entry does on load
      for (const auto& [pattern, replacement] : kMaskHeadV1Keys) {
        entry.first = std::regex_replace(entry.first, std::regex(pattern), replacement);
      }
    }
    load_state_dict_into(*heads, state, /*strict=*/true, file);
    heads->eval();
    torch::NoGradGuard no_grad;
    const std::vector<Detections> detections = heads->forward(features, proposals, image_sizes);
    ASSERT_EQ(detections.size(), 2u);
    for (int i = 0; i < 2; ++i) {
      SCOPED_TRACE("image " + std::to_string(i));
      const std::string n = "." + std::to_string(i);
      ASSERT_TRUE(at::equal(detections[i].labels, reference["labels" + n])) << "the same detections";
      EXPECT_TRUE(near(detections[i].boxes, reference["boxes" + n], 1e-3));
      EXPECT_TRUE(near(detections[i].scores, reference["scores" + n], 1e-4));
      EXPECT_TRUE(near(detections[i].masks, reference["masks" + n], 1e-4));
    }
  }
  // Faster R-CNN: the same boxes without a mask branch.
  RoIHeads boxes_only(RoIHeadsOptions(5).masks(false));
  EXPECT_FALSE(boxes_only->named_parameters().contains("mask_head.0.0.weight"));
}

}  // namespace
}  // namespace segkit::testing
