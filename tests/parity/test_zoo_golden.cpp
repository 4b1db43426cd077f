// The golden test: every registered zoo entry against its reference (torchvision's
// model, or the one written from the paper in tools/) on the same random weights with
// randomized BatchNorm statistics, an odd-sized input and both torch.save formats: the
// logits in the plain and the inference-rewritten paths, each backbone stage's output and
// shape, and the parameter counts. An entry is tested by being registered.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "segkit/infer/classification_predictor.h"
#include "segkit/infer/predictor.h"
#include "segkit/io/npy.h"
#include "segkit/models/load_model.h"
#include "segkit/models/zoo.h"
#include "test_util.h"

namespace segkit {
namespace {

using testing::relative_max_error;

constexpr double kMaxRelativeError = 1e-4;
constexpr double kMinAgreement = 0.999;
constexpr int64_t kSemanticClasses = 7;

// What a reference is made of: the input's shape and, for composed models, the stages
// whose outputs are compared (their ShapeSpecs are checked in unit/models/test_zoo.cpp).
struct Case {
  std::vector<int64_t> input;
  int64_t classes;
  std::vector<std::string> stages;
  std::string unet_json = "{}";
};

Case case_for(const ZooEntry& entry) {
  Case c;
  c.classes = entry.task == Task::kClassification ? entry.num_classes : kSemanticClasses;
  if (const auto* unet = std::get_if<UNetOptions>(&entry.architecture)) {
    const UNet model(UNetOptions(*unet).num_classes(c.classes));
    const int64_t h = model->valid_input_size(45), w = model->valid_input_size(59);
    c.input = {2, unet->in_channels(), h, w};
    nlohmann::json options{{"in_channels", unet->in_channels()}, {"depth", unet->depth()},
                           {"base_width", unet->base_width()},   {"padding", unet->padding()},
                           {"batch_norm", unet->batch_norm()},   {"upsampling", "transposed"}};
    c.unet_json = options.dump();
    return c;
  }
  // Odd sizes; big enough for AlexNet's and VGG's poolings.
  c.input =
      entry.task == Task::kClassification ? std::vector<int64_t>{2, 3, 79, 67} : std::vector<int64_t>{2, 3, 97, 123};
  const auto& composed = std::get<ComposedArchitecture>(entry.architecture);
  c.stages = build_backbone(composed.backbone, composed.backbone_options)->stage_names();
  return c;
}

std::string join(const std::vector<int64_t>& values) {
  std::string text;
  for (int64_t v : values) text += (text.empty() ? "" : ",") + std::to_string(v);
  return text;
}

std::string join(const std::vector<std::string>& values) {
  std::string text;
  for (const auto& v : values) text += (text.empty() ? "" : ",") + v;
  return text;
}

double agreement(const at::Tensor& actual, const at::Tensor& expected) {
  return actual.argmax(1).eq(expected.argmax(1)).to(at::kDouble).mean().item<double>();
}

class ZooGolden : public ::testing::TestWithParam<std::string> {
 protected:
  // The reference, made fresh by tools/zoo_reference.py; its weights are deleted after the test.
  void SetUp() override {
    const ZooEntry& entry = find_model(GetParam());
    case_ = case_for(entry);
    dir_ = testing::temp_dir("zoo_" + entry.name);
    const std::string command =
        std::string(SEGKIT_PYTHON) + " " + SEGKIT_SOURCE_DIR + "/tools/zoo_reference.py --model " + entry.name +
        " --task " + task_name(entry.task) + " --classes " + std::to_string(case_.classes) + " --input " +
        join(case_.input) + " --features '" + join(case_.stages) + "' --unet '" + case_.unet_json + "' --out " + dir_;
    const auto result = testing::run_command(command);
    ASSERT_EQ(result.exit_code, 0) << "the reference could not be made:\n" << command << "\n" << result.output;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string file(const std::string& name) const { return dir_ + "/" + name; }
  void expect_backbone_matches(const ZooEntry& entry) const;

  Case case_;
  std::string dir_;
};

TEST_P(ZooGolden, MatchesItsReference) {
  const ZooEntry& entry = find_model(GetParam());
  const at::Tensor input = read_npy(file("input.npy"));
  const at::Tensor expected = read_npy(file("out.npy"));
  const bool semantic = entry.task == Task::kSemantic;
  // The comparison means something only if the outputs depend on the input.
  const double dependence =
      (expected[0] - expected[1]).abs().max().item<double>() / expected.abs().max().item<double>();
  EXPECT_GT(dependence, 0.01) << "the reference's two outputs barely differ (100 times the tolerance needed)";
  std::ifstream reference_json(file("reference.json"));
  const auto reference = nlohmann::json::parse(reference_json);

  for (const char* weights : {"weights.pth", "weights_legacy.pth"}) {
    SCOPED_TRACE(weights);
    LoadedModel loaded = load_model(entry.name, file(weights));
    ASSERT_EQ(loaded.num_classes, case_.classes) << "class count read from the checkpoint";
    Model& model = loaded.model;
    model->eval();
    {
      at::NoGradGuard no_grad;
      at::Tensor out, aux;
      if (semantic) {
        const SemanticOutput o = std::dynamic_pointer_cast<SegmentorImpl>(model)->forward(input, /*with_aux=*/true);
        out = o.logits;
        aux = o.aux;
      } else {
        out = std::dynamic_pointer_cast<ClassifierImpl>(model)->forward(input).logits;
      }
      ASSERT_EQ(out.sizes(), expected.sizes());
      EXPECT_LE(relative_max_error(out, expected), kMaxRelativeError) << "plain path";
      EXPECT_GE(agreement(out, expected), kMinAgreement) << "plain path";
      if (std::filesystem::exists(file("aux.npy"))) {
        ASSERT_TRUE(aux.defined()) << "the checkpoint's aux head was built";
        EXPECT_LE(relative_max_error(aux, read_npy(file("aux.npy"))), kMaxRelativeError) << "aux head";
      }
    }
    int64_t parameters = 0;  // as the reference counts them: without aux heads
    for (const auto& p : model->named_parameters()) parameters += p.key().rfind("aux", 0) == 0 ? 0 : p.value().numel();
    EXPECT_EQ(parameters, reference["parameters"].get<int64_t>()) << "parameters as the reference counts them";

    // The inference path: BatchNorm folded, weights channels-last, in-place activations.
    at::Tensor fast;
    if (semantic) {
      Predictor predictor(take_as<SegmentorImpl>(model), entry.preprocess);
      fast = predictor.forward(input);
    } else {
      ClassificationPredictor predictor(take_as<ClassifierImpl>(model), entry.preprocess);
      fast = predictor.forward(input);
    }
    std::cout << entry.name << " (" << weights << "): max error " << relative_max_error(fast, expected)
              << " of the logits' scale, argmax agreement " << agreement(fast, expected) << "\n";
    EXPECT_LE(relative_max_error(fast, expected), kMaxRelativeError) << "inference path";
    EXPECT_GE(agreement(fast, expected), kMinAgreement) << "inference path";
  }

  // The zoo's listed parameter count is the model's, at the published class count.
  EXPECT_EQ(count_parameters(*build_model(entry)), entry.parameters) << "the entry's recorded parameter count";
  if (std::holds_alternative<ComposedArchitecture>(entry.architecture)) expect_backbone_matches(entry);
}

// The backbone as a segmentation backbone: built alone from the registry, loaded from the
// whole model's checkpoint, every stage's output and ShapeSpec against the reference's hooks.
void ZooGolden::expect_backbone_matches(const ZooEntry& entry) const {
  const auto& composed = std::get<ComposedArchitecture>(entry.architecture);
  Backbone backbone = build_backbone(composed.backbone, composed.backbone_options);
  backbone->set_out_features(case_.stages);
  // The backbone alone, from the whole model's checkpoint (after the entry's key renames).
  const StateDict state =
      backbone_state(apply_key_renames(entry, load_state_dict(file("weights_legacy.pth"))), *backbone, "", {});
  load_state_dict_into(*backbone, state, /*strict=*/true, "backbone");
  backbone->eval();
  at::NoGradGuard no_grad;
  const at::Tensor input = read_npy(file("input.npy"));
  const FeatureMap features = backbone->forward(input);
  for (const auto& stage : case_.stages) {
    SCOPED_TRACE(stage);
    const at::Tensor expected = read_npy(file("feature_" + stage + ".npy"));
    const at::Tensor& actual = features.at(stage);
    ASSERT_EQ(actual.sizes(), expected.sizes());
    EXPECT_LE(relative_max_error(actual, expected), kMaxRelativeError);
    EXPECT_EQ(backbone->output_shape().at(stage).channels, actual.size(1)) << "ShapeSpec channels";
  }
}

std::vector<std::string> zoo_names() { return model_zoo().names(); }

INSTANTIATE_TEST_SUITE_P(Zoo, ZooGolden, ::testing::ValuesIn(zoo_names()), [](const auto& info) { return info.param; });

}  // namespace
}  // namespace segkit
