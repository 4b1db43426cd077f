// segkit against torchvision on the same checkpoints: random weights with randomized
// BatchNorm statistics, an odd-sized input, both torch.save formats. The reference
// outputs come from tools/make_parity_fixtures.py (Debian's torchvision).

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <iostream>

#include "segkit/infer/predictor.h"
#include "segkit/io/npy.h"
#include "segkit/models/load_model.h"
#include "test_util.h"

namespace segkit {
namespace {

using testing::argmax_agreement;
using testing::fixture;
using testing::relative_max_error;

constexpr double kMaxRelativeError = 1e-4;
constexpr double kMinArgmaxAgreement = 0.999;

struct ParityCase {
  std::string model;
  std::string weights;  // file name in the model's fixture folder
};

void PrintTo(const ParityCase& c, std::ostream* os) { *os << c.model << " " << c.weights; }

std::string case_name(const ::testing::TestParamInfo<ParityCase>& info) {
  return info.param.model + "_" + (info.param.weights == "weights.pth" ? "zip" : "legacy");
}

class TorchvisionParity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(TorchvisionParity, LogitsMatch) {
  const auto& [model_name, weights] = GetParam();
  const std::string dir = model_name + "/";
  LoadedModel loaded = load_model(model_name, fixture(dir + weights), std::nullopt, /*strict=*/true);
  EXPECT_EQ(loaded.num_classes, 7);
  const at::Tensor input = read_npy(fixture(dir + "input.npy"));
  const at::Tensor expected = read_npy(fixture(dir + "out.npy"));
  const bool has_aux = find_model(model_name).has_aux_head;
  EXPECT_EQ(loaded.model->has_aux(), has_aux);

  loaded.model->eval();
  {
    at::NoGradGuard no_grad;
    const auto result = loaded.model->forward(input, /*with_aux=*/true);
    EXPECT_LE(relative_max_error(result.out, expected), kMaxRelativeError);
    EXPECT_GE(argmax_agreement(result.out, expected), kMinArgmaxAgreement);
    if (has_aux) {
      const at::Tensor expected_aux = read_npy(fixture(dir + "aux.npy"));
      EXPECT_LE(relative_max_error(result.aux, expected_aux), kMaxRelativeError) << "aux head";
    }
  }
  // The inference path: BatchNorm folded, in-place activations, inference mode.
  Predictor predictor(loaded.model, Preprocess{});
  const at::Tensor fast = predictor.forward(input);
  std::cout << model_name << " (" << weights << "): max error " << relative_max_error(fast, expected)
            << " of the logits' scale, argmax agreement " << argmax_agreement(fast, expected) << "\n";
  EXPECT_LE(relative_max_error(fast, expected), kMaxRelativeError) << "folded inference path";
  EXPECT_GE(argmax_agreement(fast, expected), kMinArgmaxAgreement) << "folded inference path";
}

std::vector<ParityCase> all_cases() {
  std::vector<ParityCase> cases;
  for (const char* model : {"fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101",
                            "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large"}) {
    for (const char* weights : {"weights.pth", "weights_legacy.pth"}) cases.push_back({model, weights});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Zoo, TorchvisionParity, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace segkit
