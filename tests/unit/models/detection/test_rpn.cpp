// The region proposal network against torchvision's at its test settings (1,000 per level
// before NMS, 1,000 per image after, IoU 0.7) on the same pyramid and weights
// (tools/detection_reference.py): the same proposals in the same order for two images of
// different sizes, from both of torchvision's key spellings.

#include <gtest/gtest.h>

#include <torch/torch.h>

#include <regex>

#include "reference_tensors.h"
#include "segkit/core/state_dict.h"
#include "segkit/models/detection/rpn.h"

namespace segkit::testing {
namespace {

TEST(RegionProposalNetwork, ProposesWhatTorchvisionProposes) {
  const ReferenceTensors reference("detection/rpn/tensors.pth");
  std::vector<at::Tensor> pyramid;
  for (const char* level : {"0", "1", "2", "3", "pool"}) pyramid.push_back(reference[std::string("pyramid.") + level]);
  const at::Tensor sizes = reference["image_sizes"];
  const std::vector<std::pair<int64_t, int64_t>> image_sizes = {
      {sizes[0][0].item<int64_t>(), sizes[0][1].item<int64_t>()},
      {sizes[1][0].item<int64_t>(), sizes[1][1].item<int64_t>()}};
  for (const std::string file : {"weights.pth", "weights_v1.pth"}) {
    SCOPED_TRACE(file);
    RegionProposalNetwork rpn(AnchorGenerator::resnet_fpn(), 256);
    StateDict state = load_state_dict(fixture("detection/rpn/" + file));
    for (auto& entry : state) {  // the v1 spelling, renamed as a zoo entry does on load
      entry.first = std::regex_replace(entry.first, std::regex(kRpnHeadV1Keys.first), kRpnHeadV1Keys.second);
    }
    load_state_dict_into(*rpn, state, /*strict=*/true, file);
    rpn->eval();
    torch::NoGradGuard no_grad;
    const std::vector<Proposals> proposals = rpn->forward(pyramid, {97, 131}, image_sizes);
    ASSERT_EQ(proposals.size(), 2u);
    for (int i = 0; i < 2; ++i) {
      SCOPED_TRACE("image " + std::to_string(i));
      EXPECT_TRUE(near(proposals[i].boxes, reference["boxes." + std::to_string(i)], 1e-3));
      EXPECT_TRUE(near(proposals[i].scores, reference["scores." + std::to_string(i)], 1e-5));
    }
  }
}

}  // namespace
}  // namespace segkit::testing
