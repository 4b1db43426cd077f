// Classification from the command line, as a user runs it: classify against torchvision,
// then train, eval, distil, fine-tune and explain on a small generated ImageFolder, bad
// files in it, and eval of already-predicted masks.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "segkit/core/checkpoint.h"
#include "segkit/io/image.h"
#include "segkit/io/npy.h"
#include "test_util.h"

namespace segkit {
namespace {

namespace fs = std::filesystem;
using testing::fixture;
using testing::run_command;
using testing::temp_dir;

const std::string kCli = SEGKIT_CLI;

// Stripes, horizontal or vertical, of random period, phase and colour, with noise.
void write_stripes(const std::string& path, bool horizontal, int seed) {
  at::manual_seed(seed);
  const int64_t h = 40, w = 48;
  const double period = 4 + seed % 5;
  const at::Tensor coordinate = horizontal ? at::arange(h, at::kFloat).view({h, 1}).expand({h, w})
                                           : at::arange(w, at::kFloat).view({1, w}).expand({h, w});
  const at::Tensor wave = ((coordinate * (6.2831853 / period) + seed).sin() > 0).to(at::kFloat);
  const at::Tensor colour = at::rand({1, 1, 3}) * 150 + 60;
  const at::Tensor image = wave.unsqueeze(2) * colour + at::randn({h, w, 3}) * 12 + 30;
  write_rgb_png(image.clamp(0, 255).to(at::kByte), path);
}

std::string make_image_folder(const std::string& root, int per_class, int seed) {
  for (const char* name : {"horizontal", "vertical"}) {
    fs::create_directories(root + "/" + name);
    for (int i = 0; i < per_class; ++i) {
      write_stripes(root + "/" + name + "/" + std::to_string(i) + ".png", name[0] == 'h', seed + i);
    }
  }
  return root;
}

nlohmann::json last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return nlohmann::json::parse(last);
}

TEST(ClassifyCli, MatchesTorchvisionFromPngToProbabilities) {
  const auto result = run_command(kCli + " classify --threads 1 -m resnet18 -w " + fixture("gradcam/resnet18.pth") +
                                  " --resize none --crop 0 --top 10 --json " + fixture("cli/image.png"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto line = nlohmann::json::parse(result.output);
  EXPECT_EQ(line["image"], fixture("cli/image.png"));
  const at::Tensor expected = read_npy(fixture("cli/resnet18_probabilities.npy"));
  ASSERT_EQ(line["top"].size(), 10u);
  double previous = 1.0;
  for (const auto& entry : line["top"]) {
    const int64_t c = entry["class"].get<int64_t>();
    EXPECT_NEAR(entry["prob"].get<double>(), expected[c].item<double>(), 1e-5) << "class " << c;
    EXPECT_LE(entry["prob"].get<double>(), previous) << "best first";
    EXPECT_EQ(entry["label"], std::to_string(c)) << "no labels file: the class index";
    previous = entry["prob"].get<double>();
  }
}

class ClassificationCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = temp_dir("classification_data");
    make_image_folder(data_ + "/train", 12, 100);
    make_image_folder(data_ + "/val", 6, 500);
    run_ = temp_dir("classification_run");
    // 12 steps an epoch: enough for BatchNorm's running statistics to settle whatever the CPU's kernels.
    train_ = run_command(train("-m resnet18 --epochs 5 --epoch-size 96 --lr 0.003 --val-every 1 -o " + run_));
  }

  static std::string train(const std::string& args) {
    return kCli + " train --threads 1 --workers 2 --folder " + data_ + "/train --val-folder " + data_ +
           "/val --crop 32 --batch 8 --area-min 0.5 --seed 4 " + args;
  }

  static std::string data_, run_;
  static testing::CommandResult train_;
};
std::string ClassificationCli::data_, ClassificationCli::run_;
testing::CommandResult ClassificationCli::train_;

TEST_F(ClassificationCli, TrainsLogsAndEvalAgrees) {
  ASSERT_EQ(train_.exit_code, 0) << train_.output;
  EXPECT_TRUE(fs::exists(run_ + "/best.pth") && fs::exists(run_ + "/last.pth") && fs::exists(run_ + "/resume.pt"));
  double best = 0;
  std::ifstream log(run_ + "/metrics.jsonl");
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line);
    best = std::max(best, j["validation"]["top1"].get<double>());
    EXPECT_TRUE(j["losses"].contains("loss_cls"));
  }
  EXPECT_GE(best, 0.9) << "stripes' orientation is learnt in a few epochs";
  // The run's report: curves, the confusion matrix and four validation images with their classes.
  const auto page = testing::render_in_chromium(run_ + "/report.html");
  ASSERT_EQ(page.exit_code, 0) << "is Debian's chromium installed?";
  EXPECT_EQ(page.console, "");
  EXPECT_NE(page.dom.find("images decoded: 6/6"), std::string::npos) << page.dom.substr(0, 2000);
  EXPECT_NE(page.dom.find("truth horizontal, predicted "), std::string::npos);
  // eval with the validation's preprocessing (short side 37 = 32 * 256 / 224, crop 32).
  const auto eval = run_command(kCli + " eval --threads 1 -m resnet18 -w " + run_ + "/best.pth --folder " + data_ +
                                    "/val --resize 37 --crop 32 --json",
                                /*with_stderr=*/false);
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const auto report = nlohmann::json::parse(eval.output);
  EXPECT_NEAR(report["top1"].get<double>(), best, 1.0 / 12 + 1e-9) << "at most one image apart (folded weights)";
  EXPECT_EQ(report["images"].get<int64_t>(), 12);
  EXPECT_EQ(report["classes"][1]["name"], "vertical");
  EXPECT_EQ(report["confusion_matrix"].size(), 2u);
  // The table names the classes.
  const auto table = run_command(kCli + " eval --threads 1 -m resnet18 -w " + run_ + "/best.pth --folder " + data_ +
                                 "/val --resize 37 --crop 32");
  EXPECT_NE(table.output.find("horizontal"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("top-2 accuracy"), std::string::npos) << table.output;
}

TEST_F(ClassificationCli, ClassifiesFoldersWithALabelsFile) {
  ASSERT_EQ(train_.exit_code, 0) << train_.output;
  std::ofstream(run_ + "/labels.txt") << "horizontal\nvertical\n";
  const auto result = run_command(kCli + " classify --threads 1 -m resnet18 -w " + run_ + "/best.pth --labels " + run_ +
                                  "/labels.txt --resize 37 --crop 32 --batch 4 --json " + data_ + "/val/vertical");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::istringstream lines(result.output);
  int count = 0, vertical = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    const auto j = nlohmann::json::parse(line);
    ++count;
    vertical += j["top"][0]["label"] == "vertical";
    EXPECT_EQ(j["top"].size(), 2u) << "top-5 of two classes";
  }
  EXPECT_EQ(count, 6);
  EXPECT_GE(vertical, 5);
}

// Two streams classify in the files' order and give one stream's answers; eval scores the same.
TEST_F(ClassificationCli, StreamsKeepTheOrderAndTheAnswers) {
  ASSERT_EQ(train_.exit_code, 0) << train_.output;
  std::map<std::string, std::vector<nlohmann::json>> lines;
  std::map<std::string, nlohmann::json> reports;
  for (const std::string streams : {"1", "2"}) {
    const std::string model = " --threads 2 --streams " + streams + " -m resnet18 -w " + run_ + "/best.pth";
    const auto result = run_command(kCli + " classify" + model + " --resize 37 --crop 32 --batch 1 --json " + data_ +
                                        "/val/vertical " + data_ + "/val/horizontal",
                                    /*with_stderr=*/false);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    std::istringstream text(result.output);
    for (std::string line; std::getline(text, line);) lines[streams].push_back(nlohmann::json::parse(line));
    const auto eval = run_command(
        kCli + " eval" + model + " --folder " + data_ + "/val --resize 37 --crop 32 --batch 2 --json", false);
    ASSERT_EQ(eval.exit_code, 0) << eval.output;
    reports[streams] = nlohmann::json::parse(eval.output);
  }
  ASSERT_EQ(lines["1"].size(), 12u);
  ASSERT_EQ(lines["2"].size(), 12u);
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(lines["2"][i]["image"], lines["1"][i]["image"]) << "the files' order";
    EXPECT_EQ(lines["2"][i]["top"][0]["class"], lines["1"][i]["top"][0]["class"]) << i;
    EXPECT_NEAR(lines["2"][i]["top"][0]["prob"].get<double>(), lines["1"][i]["top"][0]["prob"].get<double>(), 1e-5);
  }
  EXPECT_EQ(reports["2"]["confusion_matrix"], reports["1"]["confusion_matrix"]);
  EXPECT_NEAR(reports["2"]["loss"].get<double>(), reports["1"]["loss"].get<double>(), 1e-5);
}

// Classification trains channels-last on CPU; a stopped run must still resume to the same weights.
TEST_F(ClassificationCli, ResumesToTheWeightsOfAnUninterruptedRun) {
  const std::string dir = temp_dir("classification_resume");
  const std::string common = "-m resnet18 --epochs 3 --lr 0.003 --val-every 0 --mixup-alpha 0.2 ";
  ASSERT_EQ(run_command(train(common + "-o " + dir + "/full")).exit_code, 0);
  const auto stopped = run_command(train(common + "--time-limit 0.00001 -o " + dir + "/stopped"));
  ASSERT_EQ(stopped.exit_code, 0) << stopped.output;
  EXPECT_EQ(testing::count_lines(dir + "/stopped/metrics.jsonl"), 0) << "the time limit stops within the first epoch";
  EXPECT_NE(stopped.output.find("at step 1/"), std::string::npos) << stopped.output;
  EXPECT_TRUE(std::filesystem::exists(dir + "/stopped/last.pth")) << "the weights so far are kept";
  // The run's config.toml (read by --resume) holds its time limit: this session lifts it.
  const auto resumed = run_command(train(common + "--resume --time-limit 0 -o " + dir + "/stopped"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const StateDict full = load_state_dict(dir + "/full/last.pth"), again = load_state_dict(dir + "/stopped/last.pth");
  ASSERT_EQ(full.size(), again.size());
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_TRUE(full[i].second.equal(again[i].second)) << full[i].first << " differs";
  }
}

TEST_F(ClassificationCli, DistilsFromATeacher) {
  ASSERT_EQ(train_.exit_code, 0) << train_.output;
  const std::string out = temp_dir("classification_distil");
  const auto result = run_command(train("-m mobilenet_v3_small --epochs 1 --teacher " + run_ +
                                        "/best.pth --teacher-model resnet18 --distill-alpha 0.7 -o " + out));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto j = last_line(out + "/metrics.jsonl");
  EXPECT_TRUE(j["losses"].contains("loss_distill")) << j.dump();
  EXPECT_NE(result.output.find("distilling"), std::string::npos);
  const auto no_alpha =
      run_command(train("-m mobilenet_v3_small --epochs 1 --teacher " + run_ + "/best.pth -o " + out));
  EXPECT_EQ(no_alpha.exit_code, 1);
  EXPECT_NE(no_alpha.output.find("--distill-alpha"), std::string::npos) << no_alpha.output;
}

TEST_F(ClassificationCli, FineTunesTheHeadOfAFrozenBackbone) {
  ASSERT_EQ(train_.exit_code, 0) << train_.output;
  const std::string out = temp_dir("classification_frozen");
  const auto result = run_command(train("-m resnet18 --epochs 1 --freeze-backbone -w " + run_ + "/best.pth -o " + out));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const StateDict before = load_state_dict(run_ + "/best.pth"), after = load_state_dict(out + "/last.pth");
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    const bool head = before[i].first.rfind("fc.", 0) == 0;
    EXPECT_EQ(before[i].second.equal(after[i].second), !head) << before[i].first;
  }
}

TEST_F(ClassificationCli, TransfersToAnotherClassCountWithANewHead) {
  ASSERT_EQ(train_.exit_code, 0) << train_.output;
  const std::string three = temp_dir("classification_three");
  make_image_folder(three, 4, 900);
  fs::create_directories(three + "/plain");
  for (int i = 0; i < 4; ++i)
    write_rgb_png(at::full({40, 48, 3}, 40 * i, at::kByte), three + "/plain/" + std::to_string(i) + ".png");
  const std::string out = temp_dir("classification_transfer");
  const auto result = run_command(kCli + " train --threads 1 -m resnet18 --folder " + three + " --crop 32 --batch 4 " +
                                  "--epochs 1 --backbone-lr-scale 0.1 -w " + run_ + "/best.pth -o " + out);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("fc.weight"), std::string::npos) << "the old head is named as skipped";
  for (const auto& [key, tensor] : load_state_dict(out + "/last.pth")) {
    if (key == "fc.weight") {
      EXPECT_EQ(tensor.size(0), 3) << "a new head for three classes";
    }
  }
}

TEST_F(ClassificationCli, ExplainsWithGradCamAndCam) {
  ASSERT_EQ(train_.exit_code, 0) << train_.output;
  const std::string out = temp_dir("classification_explain");
  const std::string image = data_ + "/val/vertical/0.png";
  for (const char* method : {"gradcam", "cam"}) {
    const auto result = run_command(kCli + " explain --threads 1 -m resnet18 -w " + run_ + "/best.pth --method " +
                                    method + " --layer layer3 --resize none --crop 0 -o " + out + " " + image);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const Image heat = read_image(out + "/0_" + method + ".png");
    EXPECT_EQ(heat.height(), 40);
    EXPECT_EQ(heat.width(), 48);
  }
  const auto bad = run_command(kCli + " explain --threads 1 -m resnet18 -w " + run_ + "/best.pth --layer layer9 -o " +
                               out + " " + image);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("valid: relu, maxpool, layer1"), std::string::npos) << bad.output;
}

TEST(ClassificationCliErrors, AFileThatIsNoImageIsNamedOrSkipped) {
  const std::string data = make_image_folder(temp_dir("classification_gif"), 4, 40);
  std::ofstream(data + "/horizontal/imageNotFound.gif") << "GIF89a";
  const std::string command = kCli + " train --threads 1 -m mobilenet_v3_small --folder " + data +
                              " --crop 32 --batch 4 --epochs 1 -o " + temp_dir("classification_gif_run");
  const auto strict = run_command(command);
  EXPECT_EQ(strict.exit_code, 1);
  EXPECT_NE(strict.output.find("imageNotFound.gif"), std::string::npos) << strict.output;
  EXPECT_EQ(std::count(strict.output.begin(), strict.output.end(), '\n'), 1) << "one line:\n" << strict.output;
  const auto skipping = run_command(command + " --skip-bad");
  EXPECT_EQ(skipping.exit_code, 0) << skipping.output;
  EXPECT_NE(skipping.output.find("warning: skipped"), std::string::npos) << skipping.output;
}

TEST(EvalCli, ScoresPredictedMasksWithoutAModel) {
  const std::string dir = temp_dir("eval_predictions");
  fs::create_directories(dir + "/pred");
  fs::create_directories(dir + "/truth");
  at::manual_seed(8);
  int64_t same = 0, total = 0;
  for (int i = 0; i < 3; ++i) {
    const at::Tensor truth = at::randint(0, 2, {23, 31}, at::kLong);
    const at::Tensor pred = at::where(at::rand({23, 31}) < 0.8, truth, 1 - truth);
    write_label_png(truth * 255, dir + "/truth/" + std::to_string(i) + ".png");
    write_label_png(pred, dir + "/pred/" + std::to_string(i) + ".png");
    same += pred.eq(truth).sum().item<int64_t>();
    total += truth.numel();
  }
  const auto result =
      run_command(kCli + " eval --predictions " + dir + "/pred --masks " + dir + "/truth --num-classes 2 --json",
                  /*with_stderr=*/false);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto report = nlohmann::json::parse(result.output);
  EXPECT_NEAR(report["pixel_accuracy"].get<double>(), static_cast<double>(same) / total, 1e-12);
  EXPECT_TRUE(report.contains("rand_error") && report.contains("rand_error_skimage")) << "binary truth: both";
  const auto no_classes = run_command(kCli + " eval --predictions " + dir + "/pred --masks " + dir + "/truth");
  EXPECT_EQ(no_classes.exit_code, 1);
  EXPECT_NE(no_classes.output.find("--num-classes"), std::string::npos) << no_classes.output;
}

TEST(ModelsCli, ListsTheZooByTaskAndOneModelsLayers) {
  const auto all = run_command(kCli + " models");
  ASSERT_EQ(all.exit_code, 0) << all.output;
  const size_t semantic = all.output.find("semantic ("), classification = all.output.find("classification (");
  ASSERT_NE(semantic, std::string::npos);
  ASSERT_NE(classification, std::string::npos);
  EXPECT_LT(semantic, all.output.find("unet_padded"));
  EXPECT_GT(all.output.find("efficientnet_b7"), classification);
  const auto one = run_command(kCli + " models densenet121");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_NE(one.output.find("denseblock3"), std::string::npos) << one.output;
  const auto unknown = run_command(kCli + " models resnet9");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.output.find("resnet18"), std::string::npos) << unknown.output;
}

}  // namespace
}  // namespace segkit
