// The zoo, the registries and the model interface, on fresh random weights: what does
// not need a reference (the golden test compares every entry with its reference).

#include "segkit/models/zoo.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "segkit/core/errors.h"
#include "segkit/infer/predictor.h"
#include "segkit/models/classifiers/image_classifier.h"
#include "segkit/models/feature_tap.h"
#include "segkit/models/heads/head.h"
#include "segkit/models/segmentors/segmentor.h"

namespace segkit {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

TEST(Registries, UnknownNamesListTheKnownOnes) {
  const std::string model = error_of([] { find_model("fcn_resnet18x"); });
  EXPECT_NE(model.find("fcn_resnet18x"), std::string::npos);
  for (const auto& name : model_zoo().names()) EXPECT_NE(model.find(name), std::string::npos) << name;
  const std::string backbone = error_of([] { build_backbone("resnet9"); });
  EXPECT_NE(backbone.find("unknown backbone \"resnet9\""), std::string::npos) << backbone;
  EXPECT_NE(backbone.find("efficientnet_b7"), std::string::npos) << backbone;
  const std::string head = error_of([] { build_head("fpn", {}, {}); });
  EXPECT_NE(head.find("deeplabv3"), std::string::npos) << head;
}

TEST(Registries, EveryEntryNamesARegisteredBackboneAndHead) {
  for (const auto& name : model_zoo().names()) {
    const ZooEntry& e = find_model(name);
    const auto* composed = std::get_if<ComposedArchitecture>(&e.architecture);
    if (composed == nullptr) continue;
    EXPECT_TRUE(backbone_registry().contains(composed->backbone)) << name;
    EXPECT_TRUE(head_registry().contains(composed->head.type)) << name;
    for (const auto& aux : composed->aux) EXPECT_TRUE(head_registry().contains(aux.type)) << name;
  }
}

TEST(Backbones, DescribeTheirOutputsAsData) {
  Backbone dilated = build_backbone("resnet50", BackboneOptions().output_stride(8));
  EXPECT_EQ(dilated->output_shape().at("layer4").channels, 2048);
  EXPECT_EQ(dilated->output_shape().at("layer4").stride, 8);
  EXPECT_EQ(dilated->output_shape().at("layer3").stride, 8);
  dilated->set_out_features({"layer3", "layer4"});
  const auto features = dilated->forward(at::randn({1, 3, 33, 35}));
  EXPECT_EQ(features.size(), 2u);
  EXPECT_EQ(features.at("layer3").size(1), 1024);
  EXPECT_EQ(build_backbone("resnet18")->output_shape().at("layer4").stride, 32);
  EXPECT_EQ(build_backbone("mobilenet_v3_large", BackboneOptions().output_stride(16))->output_shape().at("16").stride,
            16);
  EXPECT_EQ(build_backbone("mobilenet_v3_small")->output_shape().at("12").channels, 576);
  EXPECT_EQ(build_backbone("densenet121")->output_shape().at("norm5").channels, 1024);
  EXPECT_EQ(build_backbone("efficientnet_b3")->output_shape().at("8").channels, 1536);
  EXPECT_EQ(build_backbone("vgg16")->output_shape().at("30").stride, 32);
  EXPECT_EQ(build_backbone("googlenet")->output_shape().at("inception4e").channels, 832);
}

// Every registered backbone's ShapeSpecs against the maps it returns: the channels exactly,
// the stride within the rounding of its convolutions and poolings (an input big enough
// for neighbouring strides not to overlap).
TEST(Backbones, ShapeSpecsDescribeTheMapsReturned) {
  const at::Tensor input = at::randn({1, 3, 161, 129});
  at::NoGradGuard no_grad;
  for (const auto& name : backbone_registry().names()) {
    Backbone backbone = build_backbone(name);
    backbone->set_out_features(backbone->stage_names());
    backbone->eval();
    for (const auto& [stage, map] : backbone->forward(input)) {
      const ShapeSpec& spec = backbone->output_shape().at(stage);
      EXPECT_EQ(map.size(1), spec.channels) << name << " " << stage;
      for (int d : {2, 3}) {
        const int64_t side = input.size(d);
        EXPECT_GE(map.size(d), side / spec.stride - 1) << name << " " << stage << " stride " << spec.stride;
        EXPECT_LE(map.size(d), (side + spec.stride - 1) / spec.stride)
            << name << " " << stage << " stride " << spec.stride;
      }
    }
  }
}

TEST(Backbones, RefuseWhatTorchvisionRefuses) {
  EXPECT_NE(error_of([] { build_backbone("resnet18", BackboneOptions().output_stride(8)); }).find("dilation"),
            std::string::npos);
  EXPECT_NE(error_of([] { build_backbone("vgg16", BackboneOptions().output_stride(16)); }).find("output stride 16"),
            std::string::npos);
  EXPECT_NE(error_of([] { build_backbone("resnet50")->set_out_features({"layer5"}); }).find("valid: relu, maxpool"),
            std::string::npos);
}

TEST(Backbones, ComputeNoStagePastTheDeepestAskedFor) {
  Backbone backbone = build_backbone("resnet18");
  backbone->set_out_features({"layer1"});
  FeatureTap tap("layer4");
  at::NoGradGuard no_grad;
  backbone->forward(at::randn({1, 3, 32, 32}));
  EXPECT_FALSE(tap.captured().defined());
}

TEST(Classifiers, ModuleNamesAreTorchvisionsAndGoogLeNetsAuxRunsInTrainingOnly) {
  auto keys = [](const Model& m) {
    std::set<std::string> k;
    for (const auto& p : m->named_parameters()) k.insert(p.key());
    return k;
  };
  const auto resnet = keys(build_model(find_model("resnet18")));
  EXPECT_TRUE(resnet.count("conv1.weight") && resnet.count("layer4.1.bn2.bias") && resnet.count("fc.weight"));
  const auto mobile = keys(build_model(find_model("mobilenet_v3_large")));
  EXPECT_TRUE(mobile.count("features.0.0.weight") && mobile.count("classifier.3.weight"));
  Model googlenet = build_model(find_model("googlenet"), {10, /*aux=*/true});
  const auto inception = keys(googlenet);
  EXPECT_TRUE(inception.count("aux1.fc2.weight") && inception.count("inception5b.branch3.1.conv.weight"));
  auto classifier = std::dynamic_pointer_cast<ClassifierImpl>(googlenet);
  const at::Tensor x = at::randn({2, 3, 64, 64});
  classifier->train();
  const ClassificationOutput training = classifier->forward(x);
  ASSERT_EQ(training.aux.size(), 2u);
  EXPECT_EQ(training.aux[1].sizes(), (std::vector<int64_t>{2, 10}));
  classifier->eval();
  EXPECT_TRUE(classifier->forward(x).aux.empty());
  classifier->train();
  Targets targets;
  targets.labels = at::tensor({1, 2}, at::kLong);
  const LossMap losses = classifier->losses(x, targets, LossOptions{});
  EXPECT_EQ(losses.size(), 3u) << "loss_cls, loss_aux1, loss_aux2";
}

TEST(Classifiers, DropoutAndStochasticDepthActInTrainingOnly) {
  for (const char* name : {"efficientnet_b0", "vgg11", "mobilenet_v3_small"}) {
    auto model = std::dynamic_pointer_cast<ClassifierImpl>(build_model(find_model(name), {5, false}));
    const at::Tensor x = at::randn({2, 3, 40, 40});
    at::NoGradGuard no_grad;
    model->eval();
    EXPECT_TRUE(model->forward(x).logits.equal(model->forward(x).logits)) << name << ": deterministic in eval";
    model->train();
    EXPECT_FALSE(model->forward(x).logits.equal(model->forward(x).logits)) << name << ": random in training";
  }
}

TEST(Models, SplitParametersIntoBackboneAndHead) {
  Model model = build_model(find_model("resnet18"), {3, false});
  const ParameterGroups groups = parameter_groups(*model);
  EXPECT_EQ(groups.head.size(), 2u) << "fc's weight and bias";
  int64_t backbone = 0;
  for (const auto& p : groups.backbone) backbone += p.numel();
  EXPECT_EQ(backbone, 11689512 - 512 * 1000 - 1000);
}

TEST(Models, SemanticLogitsHaveTheInputSizeAndAuxOnlyWhenAsked) {
  for (const char* name : {"fcn_resnet50", "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"}) {
    const ZooEntry& entry = find_model(name);
    const bool aux = !std::get<ComposedArchitecture>(entry.architecture).aux.empty();
    auto model = std::dynamic_pointer_cast<SegmentorImpl>(build_model(entry, {3, aux}));
    model->eval();
    at::NoGradGuard no_grad;
    const at::Tensor input = at::randn({1, 3, 45, 51});
    const auto result = model->forward(input, /*with_aux=*/true);
    EXPECT_EQ(result.logits.sizes(), (std::vector<int64_t>{1, 3, 45, 51})) << name;
    EXPECT_EQ(result.aux.defined(), aux) << name;
    EXPECT_FALSE(model->forward(input).aux.defined()) << name << ": inference skips the aux head";
  }
}

// The predictor resizes a model's unresized logits itself (both resizes at once): for every
// semantic model in the zoo they are what its forward pass resizes, so that resizing them to
// the output size gives the forward pass's logits, bit for bit.
TEST(Models, UnresizedLogitsAreWhatTheForwardPassResizes) {
  int semantic = 0;
  for (const auto& name : model_zoo().names()) {
    auto model = std::dynamic_pointer_cast<SegmentorImpl>(build_model(find_model(name), {3, false}));
    if (!model) continue;
    ++semantic;
    model->eval();
    at::NoGradGuard no_grad;
    const InputConstraints* constraints = input_constraints(*model);
    const int64_t h = constraints ? constraints->valid_input_size(45) : 45;
    const int64_t w = constraints ? constraints->valid_input_size(51) : 51;
    const at::Tensor input = at::randn({1, model->in_channels(), h, w});
    const at::Tensor unresized = model->unresized_logits(input);
    const auto [out_h, out_w] = model->output_size(h, w);
    const at::Tensor expected = model->forward(input).logits;
    EXPECT_TRUE(resize_bilinear(unresized, out_h, out_w).equal(expected)) << name;
  }
  EXPECT_GE(semantic, 8);
}

TEST(Predictors, TakeTheModelOverOrBorrowItUnchanged) {
  Model model = build_model(find_model("lraspp_mobilenet_v3_large"), {3, false});
  Segmentor shared = std::dynamic_pointer_cast<SegmentorImpl>(model);
  EXPECT_THROW(Predictor(shared, Preprocess{}), std::logic_error) << "a model its caller still holds";
  InferenceOptions borrow;
  borrow.rewrite = false;
  const auto before = model->named_parameters()["backbone.0.0.weight"].clone();
  {
    Predictor borrowed(shared, Preprocess{}, c10::Device("cpu"), borrow);
    borrowed.forward(at::randn({1, 3, 33, 33}));
  }
  EXPECT_TRUE(model->named_parameters()["backbone.0.0.weight"].equal(before)) << "borrowed: not folded";
  shared.reset();
  Segmentor owned = take_as<SegmentorImpl>(model);
  ASSERT_TRUE(owned && !model);
  Predictor predictor(std::move(owned), Preprocess{});
  EXPECT_EQ(predictor.model().named_parameters()["backbone.0.0.weight"].numel(), 0) << "folded, original released";
}

}  // namespace
}  // namespace segkit
