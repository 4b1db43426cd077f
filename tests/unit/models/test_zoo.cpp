#include "segkit/models/zoo.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "segkit/core/errors.h"
#include "segkit/models/backbones/mobilenet_v3.h"
#include "segkit/models/backbones/resnet.h"

namespace segkit {
namespace {

TEST(Zoo, UnknownNameListsTheKnownOnes) {
  try {
    find_model("fcn_resnet18");
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("fcn_resnet18"), std::string::npos);
    for (const auto& entry : model_zoo()) EXPECT_NE(message.find(entry.name), std::string::npos) << entry.name;
  }
}

class ZooEntryTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooEntryTest, LogitsHaveTheInputSizeForOddInputs) {
  const ZooEntry& entry = find_model(GetParam());
  ModelConfig config;
  config.num_classes = 3;
  config.aux = entry.has_aux_head;
  config.unet.depth(3).base_width(8);
  Segmentor model = entry.build(config);
  model->eval();
  at::NoGradGuard no_grad;
  int64_t height = 45, width = 51;
  if (auto* unet = dynamic_cast<UNetImpl*>(model.get())) {
    height = unet->valid_input_size(height);
    width = unet->valid_input_size(width);
  }
  const at::Tensor input = at::randn({1, model->in_channels(), height, width});
  const auto result = model->forward(input, /*with_aux=*/true);
  const auto [out_h, out_w] = model->output_size(height, width);
  EXPECT_EQ(result.out.sizes(), (std::vector<int64_t>{1, 3, out_h, out_w}));
  EXPECT_TRUE(at::isfinite(result.out).all().item<bool>());
  EXPECT_EQ(result.aux.defined(), entry.has_aux_head);
  EXPECT_FALSE(model->forward(input).aux.defined()) << "inference skips the aux head";
}

INSTANTIATE_TEST_SUITE_P(AllModels, ZooEntryTest,
                         ::testing::Values("fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101",
                                           "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large", "unet",
                                           "unet_padded"));

TEST(Backbones, DescribeTheirOutputs) {
  ResNet dilated(
      ResNetOptions(50).replace_stride_with_dilation({false, true, true}).out_features({"layer3", "layer4"}));
  EXPECT_EQ(dilated->output_shape().at("layer4").channels, 2048);
  EXPECT_EQ(dilated->output_shape().at("layer4").stride, 8);
  const auto features = dilated->forward(at::randn({1, 3, 33, 35}));
  EXPECT_EQ(features.size(), 2u);
  EXPECT_EQ(features.at("layer3").size(1), 1024);
  ResNet plain(ResNetOptions(50));
  EXPECT_EQ(plain->output_shape().at("layer4").stride, 32);
  EXPECT_EQ(mobilenet_v3_large_stage_indices(), (std::vector<int>{0, 2, 4, 7, 13, 16}));
  MobileNetV3 mobile(MobileNetV3Options().dilated(true).out_features({"4", "16"}));
  EXPECT_EQ(mobile->output_shape().at("16").stride, 16);
  EXPECT_EQ(mobile->output_shape().at("4").channels, 40);
  EXPECT_THROW(ResNet(ResNetOptions(50).out_features({"layer5"})), InputError);
  EXPECT_THROW(ResNet(ResNetOptions(34)), InputError);
}

}  // namespace
}  // namespace segkit
