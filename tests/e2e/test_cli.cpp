// The segkit command line, run as a user runs it.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "segkit/core/atomic_file.h"
#include "segkit/io/image.h"
#include "segkit/io/npy.h"
#include "test_util.h"

namespace segkit {
namespace {

using testing::fixture;
using testing::run_command;
using testing::temp_dir;

const std::string kCli = SEGKIT_CLI;
const std::string kLraspp = "lraspp_mobilenet_v3_large";

std::string predict(const std::string& args) { return kCli + " predict --threads 2 " + args; }

TEST(Cli, PredictMatchesTorchvisionFromPngToLogits) {
  const std::string out = temp_dir("cli_predict");
  const auto result = run_command(predict("-m " + kLraspp + " -w " + fixture(kLraspp + "/weights.pth") +
                                          " --resize none --save-logits -o " + out + " " + fixture("cli/image.png")));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const at::Tensor logits = read_npy(out + "/image_logits.npy");
  const at::Tensor expected = read_npy(fixture("cli/logits.npy"));
  ASSERT_EQ(logits.sizes(), expected.sizes());
  EXPECT_LE(testing::relative_max_error(logits, expected), 1e-4);
  const at::Tensor mask = read_image(out + "/image_mask.png").pixels.select(2, 0).to(at::kLong);
  EXPECT_TRUE(mask.equal(logits.argmax(0))) << "the mask is the argmax at the image's size";
  const Image overlay = read_image(out + "/image_overlay.png");
  EXPECT_EQ(overlay.height(), 61);
  EXPECT_EQ(overlay.width(), 87);
}

TEST(Cli, PredictsFoldersInBatchesAtTheDefaultResize) {
  const std::string out = temp_dir("cli_folder");
  const auto result = run_command(predict("-m " + kLraspp + " -w " + fixture(kLraspp + "/weights_legacy.pth") +
                                          " --batch 3 -o " + out + " " + fixture("images")));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // rgb.png, rgb.jpg, rgb.bmp and rgb.tif share a stem, so their outputs keep the extension.
  for (const char* stem : {"gray", "gray16", "rgb.png", "rgb.jpg", "rgb.bmp", "rgb.tif", "rgba"}) {
    const Image mask = read_image(out + "/" + stem + "_mask.png");
    EXPECT_EQ(mask.height(), 19) << stem;
    EXPECT_EQ(mask.width(), 27) << stem;
  }
}

TEST(Cli, ModelsListsTheZoo) {
  const auto result = run_command(kCli + " models");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("deeplabv3_mobilenet_v3_large"), std::string::npos);
  EXPECT_NE(result.output.find("3.2M"), std::string::npos) << "lraspp's parameter count";
}

struct BadInput {
  std::string name;
  std::string args;
  std::string message;  // a fragment the one-line error must contain
};

TEST(Cli, BadInputGivesOneLineErrorAndNoOutput) {
  const std::string dir = temp_dir("cli_bad");
  const std::string weights = fixture(kLraspp + "/weights.pth");
  const std::string image = fixture("cli/image.png");
  std::ofstream(dir + "/corrupt.png") << "not a png";
  const std::string zip = read_file(weights);
  std::ofstream(dir + "/cut.pth", std::ios::binary) << zip.substr(0, zip.size() / 2);
  std::filesystem::copy_file(image, dir + "/image.png");
  const std::vector<BadInput> cases = {
      {"missing image", "-m " + kLraspp + " -w " + weights + " " + dir + "/nope.png", dir + "/nope.png: no such file"},
      {"corrupt image", "-m " + kLraspp + " -w " + weights + " " + dir + "/corrupt.png",
       "corrupt.png: not a readable image"},
      {"unknown model", "-m fcn_vgg99 -w " + weights + " " + image, "known: fcn_resnet50"},
      {"truncated checkpoint", "-m " + kLraspp + " -w " + dir + "/cut.pth " + image, "cut.pth"},
      {"other model's checkpoint", "-m deeplabv3_mobilenet_v3_large -w " + weights + " " + image,
       "weights.pth: checkpoint has no classifier.4.weight"},
      {"other model's keys", "-m fcn_resnet50 --num-classes 7 -w " + weights + " " + image,
       "missing (backbone.conv1.weight"},
      {"wrong class count", "-m " + kLraspp + " --num-classes 5 -w " + weights + " " + image,
       "checkpoint has 7 classes but 5 were asked for"},
      {"image over the memory cap", "-m " + kLraspp + " --max-pixels 1000 -w " + weights + " " + image,
       "over the limit of 1000 pixels"},
      {"bad resize", "-m " + kLraspp + " --resize big -w " + weights + " " + image, "--resize must be"},
      {"same file name twice", "-m " + kLraspp + " -w " + weights + " " + image + " " + dir + "/image.png",
       "would overwrite the outputs of"},
  };
  for (const auto& c : cases) {
    const std::string out = dir + "/out_" + std::to_string(&c - cases.data());
    const auto result = run_command(predict(c.args + " -o " + out));
    EXPECT_NE(result.exit_code, 0) << c.name;
    EXPECT_NE(result.output.find(c.message), std::string::npos) << c.name << ": " << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << c.name << ": " << result.output;
    EXPECT_FALSE(std::filesystem::exists(out + "/image_mask.png")) << c.name;
  }
}

TEST(Cli, NonStrictLoadsAnotherClassCountAndSaysWhatItSkipped) {
  const std::string out = temp_dir("cli_non_strict");
  const auto result =
      run_command(predict("-m " + kLraspp + " --num-classes 2 --non-strict -w " + fixture(kLraspp + "/weights.pth") +
                          " -o " + out + " " + fixture("cli/image.png")));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("skipped 4 of another shape (classifier.low_classifier.weight"), std::string::npos)
      << result.output;
  EXPECT_TRUE(std::filesystem::exists(out + "/image_mask.png"));
}

}  // namespace
}  // namespace segkit
