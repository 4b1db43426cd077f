// The ResNet-50 FPN backbone against torchvision's resnet_fpn_backbone on the same random
// weights (tools/detection_reference.py): every pyramid level, from both checkpoint formats.

#include <gtest/gtest.h>

#include <torch/torch.h>

#include "reference_tensors.h"
#include "segkit/core/state_dict.h"
#include "segkit/models/detection/backbone_with_fpn.h"

namespace segkit::testing {
namespace {

const std::string kFolder = "detection/resnet50_fpn/";

TEST(BackboneWithFPN, Resnet50PyramidMatchesTorchvisionFromBothFormats) {
  const ReferenceTensors reference(kFolder + "tensors.pth");
  for (const std::string file : {"weights.pth", "weights_legacy.pth"}) {
    SCOPED_TRACE(file);
    BackboneWithFPN model = resnet_fpn_backbone("resnet50");
    load_state_dict_into(*model, load_state_dict(fixture(kFolder + file)), /*strict=*/true, file);
    model->eval();
    torch::NoGradGuard no_grad;
    const std::vector<at::Tensor> pyramid = model->forward(reference["input"]);
    const std::vector<std::string> names = model->level_names();
    ASSERT_EQ(names, (std::vector<std::string>{"0", "1", "2", "3", "pool"}));
    ASSERT_EQ(pyramid.size(), names.size());
    for (size_t level = 0; level < names.size(); ++level) {
      const at::Tensor& expected = reference["pyramid." + names[level]];
      ASSERT_EQ(pyramid[level].sizes(), expected.sizes()) << names[level];
      EXPECT_LT(relative_max_error(pyramid[level], expected), 1e-5) << names[level];
    }
  }
}

TEST(BackboneWithFPN, RefusesAWrongNumberOfLevels) {
  FeaturePyramid fpn(FeaturePyramidOptions({8, 16}).out_channels(4));
  EXPECT_THROW(fpn->forward({at::zeros({1, 8, 4, 4})}), c10::Error);
  EXPECT_EQ(fpn->forward({at::zeros({1, 8, 9, 7}), at::zeros({1, 16, 5, 4})}).back().sizes(),
            at::IntArrayRef({1, 4, 3, 2}));  // "pool": the coarsest level at stride 2, rounded up
}

}  // namespace
}  // namespace segkit::testing
