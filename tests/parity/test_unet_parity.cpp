// segkit's U-Net against tools/unet_reference.py (PyTorch) on the same random
// weights, randomized BatchNorm statistics and odd input sizes, for the unpadded
// paper variant and padded variants with BatchNorm and each upsampling.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "segkit/infer/predictor.h"
#include "segkit/io/npy.h"
#include "segkit/models/load_model.h"
#include "test_util.h"

namespace segkit {
namespace {

using testing::argmax_agreement;
using testing::fixture;
using testing::relative_max_error;

struct UNetCase {
  std::string folder;
  std::string model;
  Upsampling upsampling;
  int64_t depth;
  bool batch_norm;
};

void PrintTo(const UNetCase& c, std::ostream* os) { *os << c.folder; }

class UNetParity : public ::testing::TestWithParam<UNetCase> {};

TEST_P(UNetParity, LogitsMatchPyTorch) {
  const UNetCase& c = GetParam();
  for (const char* weights : {"weights.pth", "weights_legacy.pth"}) {
    SCOPED_TRACE(weights);
    LoadOptions load;
    load.unet_upsampling = c.upsampling;
    LoadedModel loaded = load_model(c.model, fixture(c.folder + "/" + weights), load);
    auto* unet = dynamic_cast<UNetImpl*>(loaded.model.get());
    ASSERT_NE(unet, nullptr);
    EXPECT_EQ(unet->options.depth(), c.depth) << "depth read from the checkpoint";
    EXPECT_EQ(unet->options.batch_norm(), c.batch_norm);
    EXPECT_EQ(unet->options.upsampling(), c.upsampling);
    const at::Tensor input = read_npy(fixture(c.folder + "/input.npy"));
    const at::Tensor expected = read_npy(fixture(c.folder + "/out.npy"));
    loaded.model->eval();
    {
      at::NoGradGuard no_grad;
      const at::Tensor out = std::dynamic_pointer_cast<UNetImpl>(loaded.model)->forward(input).logits;
      ASSERT_EQ(out.sizes(), expected.sizes());
      EXPECT_LE(relative_max_error(out, expected), 1e-5);
      EXPECT_GE(argmax_agreement(out, expected), 0.999);
    }
    Predictor predictor(take_as<SegmentorImpl>(loaded.model), Preprocess::gray());
    const at::Tensor fast = predictor.forward(input);
    EXPECT_LE(relative_max_error(fast, expected), 1e-5) << "folded, channels-last inference path";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, UNetParity,
    ::testing::Values(UNetCase{"unet", "unet", Upsampling::kTransposed, 3, false},
                      UNetCase{"unet_padded_bn_bilinear", "unet_padded", Upsampling::kBilinear, 4, true},
                      UNetCase{"unet_padded_nearest", "unet_padded", Upsampling::kNearest, 3, false}),
    [](const auto& info) { return info.param.folder; });

TEST(UNet, PaperGeometry) {
  UNet unet{UNetOptions()};
  EXPECT_EQ(unet->output_size(572, 572), (std::pair<int64_t, int64_t>{388, 388}));
  EXPECT_EQ(unet->border(), 92);
  EXPECT_EQ(unet->alignment(), 16);
  int64_t parameters = 0;
  for (const auto& p : unet->parameters()) parameters += p.numel();
  EXPECT_EQ(parameters, 31030658) << "the paper's network, as PyTorch counts it";
}

TEST(UNet, InvalidSizeNamesTheValidOnes) {
  UNet unet(UNetOptions().depth(3).base_width(4));
  try {
    unet->forward(at::zeros({1, 1, 93, 92}));
    FAIL() << "an odd feature map must be refused";
  } catch (const std::exception& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("93 x 92"), std::string::npos) << message;
    EXPECT_NE(message.find("nearest valid sizes are 96 x 92"), std::string::npos) << message;
  }
}

TEST(UNet, PaddedTakesAnySize) {
  UNet unet(UNetOptions().depth(4).base_width(4).padding(true).upsampling(Upsampling::kNearest));
  at::NoGradGuard no_grad;
  for (int64_t side : {1, 7, 8, 33}) {
    EXPECT_EQ(unet->forward(at::randn({1, 1, side, side + 2})).logits.sizes(),
              (std::vector<int64_t>{1, 2, side, side + 2}));
  }
}

}  // namespace
}  // namespace segkit
