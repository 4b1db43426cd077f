// The detection transform against torchvision's GeneralizedRCNNTransform
// (tools/detection_reference.py): resized sizes over 330 image sizes (its float32 scale and
// floor make 97 x 131 at 160 become 159 x 216), a padded batch, and detections mapped back.

#include <gtest/gtest.h>

#include "reference_tensors.h"
#include "segkit/models/detection/transform.h"

namespace segkit::testing {
namespace {

TEST(DetectionTransform, ResizesPadsAndMapsBackAsTorchvision) {
  const ReferenceTensors reference("detection/transform/tensors.pth");
  const at::Tensor sizes = reference["sizes"];
  const DetectionTransform standard;
  int mismatched = 0;
  for (int64_t i = 0; i < sizes.size(0); ++i) {
    const auto row = sizes[i];
    const auto got = standard.resized_size(row[0].item<int64_t>(), row[1].item<int64_t>());
    if (got != std::make_pair(row[2].item<int64_t>(), row[3].item<int64_t>())) {
      ADD_FAILURE() << row[0].item<int64_t>() << "x" << row[1].item<int64_t>() << " -> " << got.first << "x"
                    << got.second << ", torchvision " << row[2].item<int64_t>() << "x" << row[3].item<int64_t>();
      if (++mismatched == 5) break;
    }
  }
  EXPECT_GE(sizes.size(0), 300);

  const DetectionTransform small(DetectionTransformOptions().min_size(160).max_size(240));
  const ImageBatch batch = small({reference["image.0"], reference["image.1"]});
  EXPECT_TRUE(near(batch.tensors, reference["batch"], 1e-5));
  const at::Tensor expected_sizes = reference["image_sizes"];
  ASSERT_EQ(batch.image_sizes.size(), 2u);
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_EQ(batch.image_sizes[i].first, expected_sizes[i][0].item<int64_t>());
    EXPECT_EQ(batch.image_sizes[i].second, expected_sizes[i][1].item<int64_t>());
  }

  ImageBatch first = batch;
  first.image_sizes.resize(1);
  Detections detected{reference["detected_boxes"], at::ones({6}), at::ones({6}, at::kLong),
                      reference["detected_masks"]};
  const std::vector<Instances> instances = small.postprocess({detected}, first, {{97, 131}});
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_TRUE(near(instances[0].boxes, reference["boxes"], 1e-4));
  EXPECT_TRUE(near(instances[0].masks, reference["masks"].squeeze(1), 1e-6));
  EXPECT_THROW(small({at::zeros({1, 5, 5})}), c10::Error);
}

}  // namespace
}  // namespace segkit::testing
