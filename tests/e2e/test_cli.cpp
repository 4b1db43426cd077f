// The segkit command line, run as a user runs it.

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"
#include "segkit/infer/inference.h"
#include "segkit/io/image.h"
#include "segkit/io/npy.h"
#include "segkit/layers/quantized_conv.h"
#include "test_util.h"

#include <nlohmann/json.hpp>

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
  EXPECT_GT(overlay.width(), 87) << "the legend beside the image";
}

TEST(Cli, PredictsFoldersInBatchesAtTheDefaultResize) {
  const std::string out = temp_dir("cli_folder");
  const auto result = run_command(predict("-m " + kLraspp + " -w " + fixture(kLraspp + "/weights_legacy.pth") +
                                          " --batch 3 -o " + out + " " + fixture("images")));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // rgb.png, rgb.jpg, rgb.bmp and rgb.tif share a stem, so their outputs keep the extension.
  for (const char* stem : {"gray.png", "gray.jpg", "gray16", "rgb.png", "rgb.jpg", "rgb.bmp", "rgb.tif", "rgba",
                           "palette", "progressive"}) {
    const Image mask = read_image(out + "/" + stem + "_mask.png");
    EXPECT_EQ(mask.height(), 19) << stem;
    EXPECT_EQ(mask.width(), 27) << stem;
  }
}

// bfloat16 and int8 on trained weights and a real image: the bundled U-Net on its ISBI slice
// (tiled, as its unpadded convolutions need), its masks against float32's. On CPUs without
// AVX512-BF16 oneDNN emulates bf16: the same numbers, more slowly; without VNNI, int8 is refused.
TEST(Cli, Bf16AndInt8MasksAgreeWithFloat32OnTrainedWeights) {
  const std::string out = temp_dir("cli_bf16");
  const std::string source = SEGKIT_SOURCE_DIR;
  std::map<std::string, at::Tensor> masks;
  for (const std::string precision : {"fp32", "bf16", "auto", "int8"}) {
    const auto result =
        run_command(predict("-w " + source + "/assets/models/unet_isbi2012_membranes.pth --precision " + precision +
                            " -o " + out + "/" + precision + " " + source + "/assets/images/isbi2012_slice29.png"));
    if (precision == "int8" && !QuantizedConv::available()) {  // no int8 dot products: one line saying so
      EXPECT_NE(result.exit_code, 0);
      EXPECT_NE(result.output.find("--precision: precision int8 needs a CPU with int8 dot products"), std::string::npos)
          << result.output;
      continue;
    }
    ASSERT_EQ(result.exit_code, 0) << result.output;
    masks[precision] = read_image(out + "/" + precision + "/isbi2012_slice29_mask.png").pixels;
  }
  const double agreement = masks["bf16"].eq(masks["fp32"]).to(at::kDouble).mean().item<double>();
  std::cout << "bundled U-Net, bf16 vs fp32: " << agreement << " of the pixels agree\n";
  EXPECT_GE(agreement, 0.995);
  EXPECT_LT(agreement, 1.0) << "bf16 ran: some pixel near the boundary differs";
  EXPECT_TRUE(masks["auto"].equal(cpu_has_native_bf16() ? masks["bf16"] : masks["fp32"]))
      << "auto is bf16 where the CPU has it natively, else fp32";
  if (masks.count("int8")) {  // dynamic int8: the issue asks for at least 99% agreement
    const double int8 = masks["int8"].eq(masks["fp32"]).to(at::kDouble).mean().item<double>();
    std::cout << "bundled U-Net, int8 vs fp32: " << int8 << " of the pixels agree\n";
    EXPECT_GE(int8, 0.995);
    EXPECT_LT(int8, 1.0) << "int8 ran: some pixel near the boundary differs";
  }
}

// Tiled prediction reads its image in bands of rows as the tiles need them: the bundled U-Net's
// slice as a PNG and as a tiled, deflated BigTIFF (as slide scanners write them) gives the same
// mask and overlay as it does read whole (--save-logits keeps the whole image).
TEST(Cli, TiledPredictionReadsPngAndTiledBigTiffInBands) {
  const std::string out = temp_dir("cli_rows");
  const std::string source = SEGKIT_SOURCE_DIR;
  const std::string slice = source + "/assets/images/isbi2012_slice29.png";
  const std::string convert = std::string(SEGKIT_PYTHON) +
                              " -c 'import sys, numpy, PIL.Image, tifffile; tifffile.imwrite(sys.argv[2], "
                              "numpy.array(PIL.Image.open(sys.argv[1])), tile=(128, 128), bigtiff=True, "
                              "compression=\"zlib\")' " +
                              slice + " " + out + "/slice.tif";
  const auto converted = run_command(convert);
  ASSERT_EQ(converted.exit_code, 0) << converted.output;
  const std::string model = "-w " + source + "/assets/models/unet_isbi2012_membranes.pth --tile 188 ";
  for (const std::string run : {"whole", "png", "tif"}) {
    const std::string input = run == "tif" ? out + "/slice.tif" : slice;
    const auto result =
        run_command(predict(model + (run == "whole" ? "--save-logits " : "") + "-o " + out + "/" + run + " " + input));
    ASSERT_EQ(result.exit_code, 0) << run << ": " << result.output;
  }
  for (const std::string kind : {"mask", "overlay"}) {
    const at::Tensor whole = read_image(out + "/whole/isbi2012_slice29_" + kind + ".png").pixels;
    EXPECT_TRUE(read_image(out + "/png/isbi2012_slice29_" + kind + ".png").pixels.equal(whole)) << kind;
    EXPECT_TRUE(read_image(out + "/tif/slice_" + kind + ".png").pixels.equal(whole)) << kind;
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
       "corrupt.png: not a PNG, JPEG, BMP or TIFF image"},
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
      {"fp16 on the CPU", "-m " + kLraspp + " --precision fp16 -w " + weights + " " + image,
       "--precision: precision fp16 is for CUDA devices; on the CPU use bf16"},
      {"unknown precision", "-m " + kLraspp + " --precision fp8 -w " + weights + " " + image,
       "unknown precision 'fp8' (fp32, bf16, fp16, int8 or auto)"},
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

// Hostile and damaged images: one line each, from segkit alone (libpng, libjpeg, libtiff and
// OpenCV printed their own lines before), naming the file and what is wrong with it.
TEST(Cli, DamagedImagesGiveOneLineAndCodecsPrintNothing) {
  const std::string dir = temp_dir("cli_damaged");
  const std::string weights = fixture(kLraspp + "/weights.pth");
  auto cut = [&](const std::string& from, const std::string& to, double fraction) {
    const std::string bytes = read_file(from);
    std::ofstream(dir + "/" + to, std::ios::binary) << bytes.substr(0, static_cast<size_t>(bytes.size() * fraction));
  };
  cut(fixture("images/rgb.jpg"), "cut.jpg", 0.97);  // into the entropy-coded data
  cut(fixture("images/rgb.png"), "cut.png", 0.7);
  cut(fixture("images/rgb.bmp"), "cut.bmp", 0.7);
  cut(fixture("images/rgb.tif"), "cut.tif", 0.7);
  cut(fixture("images/rgb.png"), "header_only.png", 0.05);
  std::string huge = read_file(fixture("images/rgb.png"));
  huge.replace(16, 8, std::string("\x00\x01\x86\xa0\x00\x01\x86\xa0", 8));  // 100000 x 100000
  std::ofstream(dir + "/huge.png", std::ios::binary) << huge;
  struct Case {
    std::string file, message;
  };
  for (const Case& c : std::vector<Case>{
           {"cut.jpg", "cut.jpg: corrupt or truncated JPEG image (Premature end of JPEG file)"},
           {"cut.png", "cut.png: corrupt or truncated PNG image"},
           {"cut.bmp", "cut.bmp: corrupt or truncated BMP image"},
           {"cut.tif", "cut.tif: corrupt or truncated TIFF image"},
           {"header_only.png", "header_only.png: corrupt or truncated PNG image"},
           {"huge.png",
            "huge.png: image is 100000x100000 pixels, over the limit of 100000000 pixels (--max-pixels "
            "raises it)"},
       }) {
    const auto result =
        run_command(predict("-m " + kLraspp + " -w " + weights + " -o " + dir + "/out " + dir + "/" + c.file));
    EXPECT_EQ(result.exit_code, 1) << c.file;
    EXPECT_NE(result.output.find("segkit: error: "), std::string::npos) << result.output;
    EXPECT_NE(result.output.find(c.message), std::string::npos) << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
  }
  // --skip-bad: the damaged files are named, one line each, and the good one is segmented.
  std::filesystem::copy_file(fixture("cli/image.png"), dir + "/good.png");
  const auto skipped =
      run_command(predict("--skip-bad -m " + kLraspp + " -w " + weights + " -o " + dir + "/out " + dir));
  EXPECT_EQ(skipped.exit_code, 0) << skipped.output;
  EXPECT_NE(skipped.output.find("segkit: skipped " + dir + "/cut.jpg: corrupt or truncated JPEG"), std::string::npos)
      << skipped.output;
  EXPECT_NE(skipped.output.find("skipped 6 of 7 images"), std::string::npos) << skipped.output;
  EXPECT_TRUE(std::filesystem::exists(dir + "/out/good_mask.png"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/out/cut_mask.png"));
}

// Predict killed at a random moment (kill -9: no handler runs) leaves at most temporaries
// whose process is gone, and the next run removes them; SIGTERM and SIGINT remove them at
// once; a file-size limit (SIGXFSZ, ulimit -f) is an error with no partial file.
TEST(Cli, InterruptedPredictLeavesNoStrayFiles) {
  const std::string dir = temp_dir("cli_interrupted");
  std::filesystem::create_directories(dir + "/in");
  for (int i = 0; i < 48; ++i) {
    std::filesystem::copy_file(fixture("cli/image.png"), dir + "/in/" + std::to_string(i) + ".png");
  }
  const std::string args =
      "-m " + kLraspp + " -w " + fixture(kLraspp + "/weights.pth") + " --batch 1 -o " + dir + "/out " + dir + "/in";
  auto strays = [&] {  // the temporaries left in the output folder, joined
    std::vector<std::string> found;
    std::error_code no_folder;  // a run killed before its first output made none
    for (const auto& entry : std::filesystem::directory_iterator(dir + "/out", no_folder)) {
      if (entry.path().string().find(".segkit-tmp.") != std::string::npos) found.push_back(entry.path().string());
    }
    return join(found);
  };
  std::mt19937 random(std::random_device{}());
  for (const char* signal : {"KILL", "TERM", "INT"}) {
    // Killed at a random moment after its first mask, while it writes: a fixed delay from the
    // start lands before any output on a loaded machine, where loading alone can take seconds.
    // set -m: without job control bash starts background commands with SIGINT ignored.
    const double delay = std::uniform_real_distribution<double>(0, 1)(random);
    SCOPED_TRACE(std::string("SIG") + signal + " " + std::to_string(delay) + " s after the first mask");
    std::filesystem::remove_all(dir + "/out");
    const auto killed =
        run_command("bash -c 'set -m; " + predict(args) + " >/dev/null 2>&1 & pid=$!; for i in $(seq 600); do [ -e " +
                    dir + "/out/0_mask.png ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done; sleep " +
                    std::to_string(delay) + "; kill -" + signal + " $pid; wait $pid; echo status $?'");
    const int killed_by = std::string(signal) == "KILL"   ? 128 + SIGKILL
                          : std::string(signal) == "TERM" ? 128 + SIGTERM
                                                          : 128 + SIGINT;
    EXPECT_TRUE(killed.output.find("status 0") != std::string::npos ||  // done before the signal came
                killed.output.find("status " + std::to_string(killed_by)) != std::string::npos)
        << killed.output;
    if (std::string(signal) != "KILL") {
      EXPECT_EQ(strays(), "") << "the signal handler removes open temporaries";
    }
    const auto rerun = run_command(predict(args));
    ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
    EXPECT_EQ(strays(), "") << "the next run removes what kill -9 left";
    for (int i = 0; i < 48; ++i) read_image(dir + "/out/" + std::to_string(i) + "_mask.png");  // whole files
  }
  std::filesystem::remove_all(dir + "/out");
  const auto limited = run_command("bash -c 'ulimit -f 2; " + predict(args) + "'");
  EXPECT_EQ(limited.exit_code, 1) << limited.output;
  EXPECT_NE(limited.output.find("File too large"), std::string::npos) << limited.output;
  EXPECT_EQ(strays(), "");
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/out")) {
    EXPECT_NO_THROW(read_image(entry.path().string())) << "a partial file: " << entry.path();
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

TEST(Cli, UsageErrorsSayDidYouMeanWithOneExitCode) {
  const std::string image = fixture("cli/image.png");
  const std::string weights = fixture(kLraspp + "/weights.pth");
  const std::vector<BadInput> cases = {
      {"flag typo", kCli + " predict -m " + kLraspp + " -w " + weights + " --tiles 64 " + image,
       "segkit: error: unknown option --tiles for `segkit predict`; did you mean --tile? (see `segkit predict "
       "--help`)"},
      {"flag with a value typo", kCli + " train --learning-rate=0.1 -m unet", "did you mean --lr?"},
      {"command typo", kCli + " predcit " + image, "unknown command \"predcit\"; did you mean predict?"},
      {"missing flag", kCli + " predict " + image, "predict: --weights is required"},
      {"bad number", kCli + " predict --batch many -w " + weights + " " + image, "predict: "},
      {"no pixel cap", kCli + " predict --max-pixels 0 -w " + weights + " " + image, "predict: --max-pixels"},
      {"negative pixel cap", kCli + " classify --max-pixels -1 -w " + weights + " " + image, "classify: --max-pixels"},
      {"negative streams", kCli + " eval --streams -1 -w " + weights + " --folder .",
       "eval: --streams: must be a whole number of 0 or more, got \"-1\""},
  };
  for (const auto& c : cases) {
    const auto result = run_command(c.args);
    EXPECT_EQ(result.exit_code, 2) << c.name << ": " << result.output;
    EXPECT_NE(result.output.find(c.message), std::string::npos) << c.name << ": " << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << c.name << ": " << result.output;
    EXPECT_EQ(result.output.rfind("segkit: error: ", 0), 0u) << c.name << ": " << result.output;
  }
}

TEST(Cli, HelpAndVersionAreNotErrors) {
  for (const std::string args : {"--help", "-h", "--version", "predict --help", "train -h"}) {
    const auto result = run_command(kCli + " " + args);
    EXPECT_EQ(result.exit_code, 0) << args << ": " << result.output;
    EXPECT_EQ(result.output.find("segkit: error"), std::string::npos) << args << ": " << result.output;
  }
  EXPECT_NE(run_command(kCli + " --help").output.find("plot"), std::string::npos);
  const std::string eval_help = run_command(kCli + " eval --help").output;
  EXPECT_EQ(eval_help.find("training images"), std::string::npos) << eval_help;
  EXPECT_NE(eval_help.find("--resize"), std::string::npos);
  EXPECT_NE(eval_help.find("--batch"), std::string::npos);
}

TEST(Cli, ConfigFilesWithUnknownKeysOrSectionsAreRefused) {
  const std::string dir = temp_dir("cli_config");
  std::ofstream(dir + "/key.toml") << "# a run\n[train]\nepochs = 3\nlearning-rate = 0.01\n";
  std::ofstream(dir + "/section.toml") << "[trian]\nepochs = 3\n";
  std::ofstream(dir + "/typo.toml") << "[train]\nepoch-sise = 3\n";
  std::ofstream(dir + "/dotted.toml") << "train.epochs = 3\ntrain.epoch-sise = 3\n";
  const std::vector<BadInput> cases = {
      {"unknown key", "key.toml", "key.toml:4: unknown key \"learning-rate\" in [train]; did you mean \"lr\"?"},
      {"unknown section", "section.toml", "section.toml:1: unknown section [trian]; did you mean [train]?"},
      {"misspelt key", "typo.toml", "typo.toml:2: unknown key \"epoch-sise\" in [train]; did you mean \"epoch-size\"?"},
      {"dotted key", "dotted.toml",
       "dotted.toml:2: unknown key \"epoch-sise\" in [train]; did you mean \"epoch-size\"?"},
  };
  for (const auto& c : cases) {
    const auto result = run_command(kCli + " --config " + dir + "/" + c.args + " train -m unet -o " + dir + "/out");
    EXPECT_EQ(result.exit_code, 2) << c.name << ": " << result.output;
    EXPECT_NE(result.output.find(c.message), std::string::npos) << c.name << ": " << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << c.name << ": " << result.output;
  }
}

TEST(Cli, CheckpointsWithoutARecordNeedAModel) {
  const auto result = run_command(predict("-w " + fixture(kLraspp + "/weights.pth") + " -o " +
                                          temp_dir("cli_no_record") + " " + fixture("cli/image.png")));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("weights.pth: records no model (segkit did not write it); give --model"),
            std::string::npos)
      << result.output;
}

TEST(Cli, OverlaysUseThePaletteAlphaAndLegend) {
  const std::string out = temp_dir("cli_palette");
  const std::string args = "-m " + kLraspp + " -w " + fixture(kLraspp + "/weights.pth") + " --resize none -o " + out +
                           " " + fixture("cli/image.png");
  ASSERT_EQ(run_command(predict(args + " --palette camvid --alpha 1 --no-legend")).exit_code, 0);
  const at::Tensor mask = read_image(out + "/image_mask.png").pixels.select(2, 0).to(at::kLong);
  const at::Tensor overlay = read_image(out + "/image_overlay.png").pixels;
  ASSERT_EQ(overlay.size(1), mask.size(1)) << "no legend";
  // At alpha 1 every pixel is its class's CamVid colour, class 0 (Sky) included.
  const at::Tensor camvid =
      at::tensor({128, 128, 128, 128, 0, 0, 192, 192, 128, 128, 64, 128, 60, 40, 222, 128, 128, 0, 192, 128, 128},
                 at::kLong)
          .view({7, 3});
  EXPECT_TRUE(
      overlay.to(at::kLong).equal(camvid.index_select(0, mask.flatten()).view({mask.size(0), mask.size(1), 3})));
  ASSERT_GT(mask.eq(0).sum().item<int64_t>(), 0) << "the test needs some class-0 pixels";
  std::ofstream(out + "/names.txt") << "sky\nroad\ncar\ntree\nsign\nfence\nperson with a long name\n";
  ASSERT_EQ(run_command(predict(args + " --class-names " + out + "/names.txt")).exit_code, 0) << "names from a file";
  EXPECT_GT(read_image(out + "/image_overlay.png").width(), mask.size(1) + 40) << "a legend with the names";
  const auto bad = run_command(predict(args + " --palette pastel"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("pastel: no such palette file"), std::string::npos) << bad.output;
}

// --no-overlay: the same masks, and no overlay file, whole and tiled.
TEST(Cli, NoOverlayWritesTheSameMasksOnly) {
  const std::string out = temp_dir("cli_no_overlay");
  const std::string args =
      "-m " + kLraspp + " -w " + fixture(kLraspp + "/weights.pth") + " --resize none " + fixture("cli/image.png");
  for (const std::string tiles : {"", " --tile 40 --overlap 8"}) {
    ASSERT_EQ(run_command(predict(args + tiles + " -o " + out + "/with")).exit_code, 0) << tiles;
    const auto result = run_command(predict(args + tiles + " --no-overlay -o " + out + "/without"));
    ASSERT_EQ(result.exit_code, 0) << tiles << ": " << result.output;
    EXPECT_NE(result.output.find("wrote 1 mask(s) to"), std::string::npos) << result.output;
    EXPECT_TRUE(
        read_image(out + "/without/image_mask.png").pixels.equal(read_image(out + "/with/image_mask.png").pixels))
        << tiles;
    EXPECT_TRUE(std::filesystem::exists(out + "/with/image_overlay.png")) << tiles;
    EXPECT_FALSE(std::filesystem::exists(out + "/without/image_overlay.png")) << tiles;
    std::filesystem::remove_all(out + "/with");
    std::filesystem::remove_all(out + "/without");
  }
}

// Two streams (the default on 2 threads: two batches through the network at once, one thread
// each) write what one stream on both threads writes, file for file, in every precision.
TEST(Cli, StreamsWriteWhatOneStreamWrites) {
  const std::string out = temp_dir("cli_streams");
  const std::string args = "-m " + kLraspp + " -w " + fixture(kLraspp + "/weights.pth") + " --resize 64 --save-logits ";
  for (const std::string precision : {"fp32", "bf16", "int8"}) {
    if (precision == "int8" && !QuantizedConv::available()) continue;  // refused: Bf16AndInt8... checks the message
    std::string wrote;
    for (const std::string streams : {"1", "2"}) {
      const auto result = run_command(predict(args + "--precision " + precision + " --streams " + streams + " -o " +
                                              out + "/" + precision + streams + " " + fixture("images")));
      ASSERT_EQ(result.exit_code, 0) << precision << " " << streams << ": " << result.output;
      wrote = result.output.substr(result.output.find("wrote "));
    }
    size_t files = 0, masks = 0;
    for (const auto& entry : std::filesystem::directory_iterator(out + "/" + precision + "1")) {
      const std::string name = entry.path().filename().string(), other = out + "/" + precision + "2/" + name;
      ASSERT_TRUE(std::filesystem::exists(other)) << name;
      ++files;
      masks += name.find("_mask.png") != std::string::npos;
      if (entry.path().extension() == ".npy") {  // each stream on one thread: sums may split otherwise
        EXPECT_LE(testing::relative_max_error(read_npy(other), read_npy(entry.path().string())), 1e-5) << name;
      } else {
        EXPECT_TRUE(read_image(other).pixels.equal(read_image(entry.path().string()).pixels))
            << precision << " " << name;
      }
    }
    EXPECT_EQ(files, 3 * masks) << "a mask, an overlay and logits an image";
    EXPECT_EQ(wrote.rfind("wrote " + std::to_string(masks) + " mask(s)", 0), 0u) << wrote;
  }
}

TEST(Cli, FoldersSkipFilesThatAreNotImagesWithOneLine) {
  const std::string dir = temp_dir("cli_skip");
  std::filesystem::copy_file(fixture("cli/image.png"), dir + "/a.png");
  std::ofstream(dir + "/notes.txt") << "taken on tuesday";
  std::ofstream(dir + "/labels.csv") << "a,1";
  const auto result =
      run_command(predict("-m " + kLraspp + " -w " + fixture(kLraspp + "/weights.pth") + " -o " + dir + "/out " + dir));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("segkit: skipped 2 files that are not images in " + dir + " (labels.csv, notes.txt)"),
            std::string::npos)
      << result.output;
  EXPECT_TRUE(std::filesystem::exists(dir + "/out/a_mask.png"));
}

TEST(Cli, ModelsAsJsonAndBashCompletion) {
  const auto json = run_command(kCli + " models --json", /*with_stderr=*/false);
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const auto models = nlohmann::json::parse(json.output);
  ASSERT_EQ(models.size(), 45u);
  EXPECT_EQ(models[0]["name"], "fcn_resnet50");
  EXPECT_EQ(models[41]["name"], "maskrcnn_resnet50_fpn");
  EXPECT_EQ(models[41]["task"], "instance");
  EXPECT_EQ(models[0]["task"], "semantic");
  EXPECT_TRUE(models[0]["parameters"].is_number_integer());
  const std::string dir = temp_dir("cli_completion");
  const auto script = run_command(kCli + " completion bash > " + dir + "/segkit.bash");
  ASSERT_EQ(script.exit_code, 0) << script.output;
  // Loaded into bash, it completes flags of a subcommand and zoo names after --model.
  const auto completed = run_command("bash -c 'source " + dir +
                                     "/segkit.bash; COMP_WORDS=(segkit predict --til); COMP_CWORD=2; _segkit; echo "
                                     "${COMPREPLY[@]}; COMP_WORDS=(segkit eval -m deeplabv3_mob); COMP_CWORD=3; "
                                     "_segkit; echo ${COMPREPLY[@]}'");
  EXPECT_EQ(completed.output, "--tile --tile-batch\ndeeplabv3_mobilenet_v3_large\n");
}

}  // namespace
}  // namespace segkit
