// Grad-CAM and CAM against the same maps computed in PyTorch with autograd hooks on
// torchvision's models and the same weights (tools/gradcam_reference.py).

#include "segkit/explain/grad_cam.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "segkit/models/load_model.h"
#include "test_util.h"

namespace segkit {
namespace {

using testing::fixture;
using testing::relative_max_error;

nlohmann::json cases() {
  std::ifstream in(fixture("gradcam/cases.json"));
  return nlohmann::json::parse(in);
}

TEST(GradCam, ClassifierLayersMatchPyTorchHooks) {
  LoadedModel loaded = load_model("resnet18", fixture("gradcam/resnet18.pth"));
  loaded.model->eval();
  const at::Tensor input = read_npy(fixture("gradcam/resnet18_input.npy"));
  const auto expected = cases();
  // layer4 for the top class, layer3 for a class named explicitly (the reference's choice).
  const std::optional<int64_t> layer3_class = expected["resnet18_layer3"].get<int64_t>();
  for (const auto& [layer, target] : {std::pair<std::string, std::optional<int64_t>>{"layer4", std::nullopt},
                                      std::pair<std::string, std::optional<int64_t>>{"layer3", layer3_class}}) {
    SCOPED_TRACE(layer);
    CamOptions options;
    options.layer = layer;
    options.target_class = target;
    const CamResult cam = grad_cam(*loaded.model, input, options);
    const at::Tensor reference = read_npy(fixture("gradcam/resnet18_" + layer + ".npy"));
    ASSERT_GT(reference.max().item<double>(), 0) << "a reference map with something in it";
    ASSERT_EQ(cam.map.sizes(), reference.sizes());
    EXPECT_LE(relative_max_error(cam.map, reference), 1e-4);
    EXPECT_EQ(cam.target_class, expected["resnet18_" + layer].get<int64_t>());
    EXPECT_EQ(cam.heat.sizes(), (std::vector<int64_t>{131, 119}));
    EXPECT_NEAR(cam.heat.max().item<double>(), 1.0, 1e-6);
  }
}

TEST(GradCam, ClassActivationMapMatchesTheLinearWeights) {
  LoadedModel loaded = load_model("resnet18", fixture("gradcam/resnet18.pth"));
  loaded.model->eval();
  const CamResult cam =
      class_activation_map(*loaded.model, read_npy(fixture("gradcam/resnet18_input.npy")), std::nullopt);
  EXPECT_LE(relative_max_error(cam.map, read_npy(fixture("gradcam/resnet18_cam.npy"))), 1e-4);
  EXPECT_EQ(cam.target_class, cases()["resnet18_cam"].get<int64_t>());
}

TEST(GradCam, SemanticModelExplainsARegionOfItsMask) {
  LoadedModel loaded = load_model("lraspp_mobilenet_v3_large", fixture("gradcam/lraspp.pth"));
  loaded.model->eval();
  const auto expected = cases();
  CamOptions options;
  options.layer = "13";
  const auto region = expected["lraspp_region"].get<std::vector<int64_t>>();
  options.region = std::array<int64_t, 4>{region[0], region[1], region[2], region[3]};
  const CamResult cam = grad_cam(*loaded.model, read_npy(fixture("gradcam/lraspp_input.npy")), options);
  EXPECT_LE(relative_max_error(cam.map, read_npy(fixture("gradcam/lraspp_13.npy"))), 1e-4);
  EXPECT_EQ(cam.target_class, expected["lraspp_13"].get<int64_t>());
}

TEST(GradCam, UnknownLayersAndUnfitModelsAreNamedErrors) {
  LoadedModel loaded = load_model("lraspp_mobilenet_v3_large", fixture("gradcam/lraspp.pth"));
  loaded.model->eval();
  const at::Tensor input = read_npy(fixture("gradcam/lraspp_input.npy"));
  CamOptions options;
  options.layer = "layer4";
  try {
    grad_cam(*loaded.model, input, options);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("valid: 0, 1, 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(class_activation_map(*loaded.model, input, std::nullopt), std::exception) << "not a classifier";
  Model mobilenet = build_model(find_model("mobilenet_v3_small"), {4, false});
  mobilenet->eval();
  EXPECT_THROW(class_activation_map(*mobilenet, at::randn({1, 3, 40, 40}), std::nullopt), std::exception)
      << "two linear layers after pooling";
}

}  // namespace
}  // namespace segkit
