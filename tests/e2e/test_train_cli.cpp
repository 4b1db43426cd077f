// segkit train, eval and tiled predict from the command line, on small generated
// membrane-like data: resume after kill -9, bad inputs, a NaN loss, a full disk.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "segkit/core/atomic_file.h"
#include "segkit/core/checkpoint.h"
#include "segkit/io/image.h"
#include "segkit/models/checkpoint_info.h"
#include "test_util.h"

#include <nlohmann/json.hpp>

namespace segkit {
namespace {

namespace fs = std::filesystem;
using testing::count_lines;
using testing::run_command;
using testing::temp_dir;

const std::string kCli = SEGKIT_CLI;

// Gray images of bright cells on a dark membrane grid, and 0/255 masks of the cells.
std::string make_dataset(const std::string& dir, int count, int64_t size = 40) {
  fs::create_directories(dir + "/images");
  fs::create_directories(dir + "/masks");
  at::manual_seed(11);
  for (int i = 0; i < count; ++i) {
    at::Tensor mask = at::full({size, size}, 255, at::kLong);
    const int64_t step = 9 + i % 3;
    for (int64_t k = i % 4; k < size; k += step) {
      mask.slice(0, k, k + 2).zero_();
      mask.slice(1, k, k + 2).zero_();
    }
    at::Tensor gray = (mask.to(at::kFloat) * 0.6 + 40 + at::randn({size, size}) * 15).clamp(0, 255).to(at::kByte);
    write_rgb_png(gray.unsqueeze(2).expand({size, size, 3}).contiguous(),
                  dir + "/images/" + std::to_string(i) + ".png");
    write_label_png(mask, dir + "/masks/" + std::to_string(i) + ".png");
  }
  return dir;
}

std::string train_command(const std::string& data, const std::string& out, const std::string& extra = "") {
  return kCli + " train -m unet_padded --depth 3 --width 4 --batch-norm true --images " + data + "/images --masks " +
         data + "/masks --crop 32 --batch 4 --workers 2 --threads 1 --rotate 10 --elastic 3 " +
         (extra.find("--epoch-size") == std::string::npos ? "--epoch-size 16 " : "") +
         "--weight-map true --lr 0.01 --seed 3 -o " + out + " " + extra;
}

void expect_same_weights(const std::string& a, const std::string& b) {
  const StateDict sa = load_state_dict(a), sb = load_state_dict(b);
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_TRUE(sa[i].second.equal(sb[i].second)) << sa[i].first << " differs";
  }
}

class TrainCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { data_ = make_dataset(temp_dir("train_data"), 6); }
  static std::string data_;
};
std::string TrainCli::data_;

TEST_F(TrainCli, ResumeAfterKillMinus9MatchesAnUninterruptedRun) {
  const std::string dir = temp_dir("train_resume");
  // Long enough that the latest kill still lands before the end on a fast machine.
  const std::string epochs = "--epochs 6 --epoch-size 384";
  const auto full = run_command(train_command(data_, dir + "/full", epochs));
  ASSERT_EQ(full.exit_code, 0) << full.output;
  EXPECT_EQ(count_lines(dir + "/full/metrics.jsonl"), 6);
  // Three fixed moments after the first epoch's resume.pt appears (the metrics line comes
  // just before it: a kill between the two restarts the run, correctly, but tests nothing)
  // and a random one (the temporaries of a checkpoint being written may be left by any of
  // them; the next run must remove them).
  const std::string random_delay = std::to_string(std::random_device{}() % 500 / 1000.0);
  for (const std::string& delay : {std::string("0"), std::string("0.15"), std::string("0.4"), random_delay}) {
    SCOPED_TRACE("killed " + delay + " s after the first epoch");
    const std::string out = dir + "/killed" + delay;
    const auto killed =
        run_command("bash -c '" + train_command(data_, out, epochs) + " >/dev/null 2>&1 & pid=$!; until [ -f " + out +
                    "/resume.pt ]; do sleep 0.02; done; sleep " + delay + "; kill -9 $pid; wait $pid; echo killed'");
    ASSERT_NE(killed.output.find("killed"), std::string::npos) << killed.output;
    ASSERT_LT(count_lines(out + "/metrics.jsonl"), 6) << "the kill came too late to test anything";
    const auto resumed = run_command(train_command(data_, out, epochs + " --resume"));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_NE(resumed.output.find("resuming after epoch"), std::string::npos) << resumed.output;
    expect_same_weights(dir + "/full/last.pth", out + "/last.pth");
    EXPECT_EQ(count_lines(out + "/metrics.jsonl"), 6);
    for (const auto& entry : fs::directory_iterator(out)) {
      EXPECT_EQ(entry.path().filename().string().find(".segkit-tmp."), std::string::npos) << "left: " << entry.path();
    }
  }
}

TEST_F(TrainCli, SavedConfigurationReproducesTheRun) {
  const std::string dir = temp_dir("train_config");
  ASSERT_EQ(run_command(train_command(data_, dir + "/a", "--epochs 2")).exit_code, 0);
  std::ifstream config(dir + "/a/config.toml");
  ASSERT_TRUE(config.good());
  const std::string text = read_file(dir + "/a/config.toml");
  EXPECT_EQ(text.find("overwrite="), std::string::npos) << "how a session started is not the run's configuration";
  EXPECT_EQ(text.find("resume="), std::string::npos);
  const auto again = run_command(kCli + " --config " + dir + "/a/config.toml train -o " + dir + "/b");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  expect_same_weights(dir + "/a/last.pth", dir + "/b/last.pth");
}

TEST_F(TrainCli, EvalReportsMembraneMeasuresAndTiledPredictMatchesWhole) {
  const std::string dir = temp_dir("train_eval");
  ASSERT_EQ(run_command(train_command(data_, dir, "--epochs 2")).exit_code, 0);
  const auto eval = run_command(kCli + " eval --threads 2 -m unet_padded -w " + dir + "/last.pth --images " + data_ +
                                "/images --masks " + data_ + "/masks --report " + dir + "/report.json");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("pixel error"), std::string::npos) << eval.output;
  EXPECT_NE(eval.output.find("cell interior"), std::string::npos) << eval.output;
  const std::string report = read_file(dir + "/report.json");
  EXPECT_NE(report.find("\"rand_error\""), std::string::npos);
  EXPECT_NE(report.find("\"confusion_matrix\""), std::string::npos);
  EXPECT_NE(report.find("\"pixels\": 9600"), std::string::npos) << "6 images of 40 x 40";
  // One stream scores what the default two did (each image's mask is the same).
  const auto one = run_command(kCli + " eval --threads 2 -m unet_padded -w " + dir + "/last.pth --images " + data_ +
                               "/images --masks " + data_ + "/masks --streams 1 --report " + dir + "/report1.json");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_EQ(read_file(dir + "/report1.json"), report);

  const std::string image = data_ + "/images/1.png";
  ASSERT_EQ(run_command(kCli + " predict " + image + " -m unet_padded -w " + dir + "/last.pth -o " + dir + "/whole")
                .exit_code,
            0);
  const auto tiled = run_command(kCli + " predict " + image + " -m unet_padded -w " + dir +
                                 "/last.pth --tile 24 --overlap 8 -o " + dir + "/tiled");
  ASSERT_EQ(tiled.exit_code, 0) << tiled.output;
  const at::Tensor a = read_image(dir + "/whole/1_mask.png").pixels;
  const at::Tensor b = read_image(dir + "/tiled/1_mask.png").pixels;
  ASSERT_EQ(a.sizes(), b.sizes());
  EXPECT_GT(a.eq(b).to(at::kDouble).mean().item<double>(), 0.95) << "blended tiles agree with the whole image";
  EXPECT_TRUE(fs::exists(dir + "/tiled/1_overlay.png"));
}

TEST_F(TrainCli, BadInputsFailWithOneLineNamingTheFile) {
  const std::string dir = temp_dir("train_bad");
  // A mask of another size.
  const std::string sizes = make_dataset(dir + "/sizes", 2);
  write_label_png(at::zeros({30, 40}, at::kLong), sizes + "/masks/1.png");
  auto r = run_command(train_command(sizes, dir + "/o1", "--epochs 1"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("masks/1.png: mask is 40x30 but its image"), std::string::npos) << r.output;
  // A class index out of range.
  const std::string values = make_dataset(dir + "/values", 2);
  at::Tensor mask = at::zeros({40, 40}, at::kLong);
  mask[3][4] = 7;
  write_label_png(mask, values + "/masks/0.png");
  r = run_command(train_command(values, dir + "/o2", "--epochs 1 --mask-encoding index"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("masks/0.png: mask value 7 is not a class (0 to 1)"), std::string::npos) << r.output;
  // An empty dataset.
  fs::create_directories(dir + "/empty/images");
  fs::create_directories(dir + "/empty/masks");
  r = run_command(train_command(dir + "/empty", dir + "/o3", "--epochs 1"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("holds no images"), std::string::npos) << r.output;
  // An unreadable image: an error, or with --skip-bad a warning and training goes on.
  const std::string broken = make_dataset(dir + "/broken", 5);
  write_file_atomically(broken + "/images/2.png", "not a png");
  r = run_command(train_command(broken, dir + "/o4", "--epochs 1"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("images/2.png: not a PNG, JPEG, BMP or TIFF image"), std::string::npos) << r.output;
  r = run_command(train_command(broken, dir + "/o5", "--epochs 1 --skip-bad"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: skipping a sample: " + broken + "/images/2.png"), std::string::npos) << r.output;
  // Every failure above is one line of error, no crash.
  EXPECT_EQ(r.output.find("terminate"), std::string::npos);
}

// --precision bf16: the forward pass under autocast, the weights it saves float32 as the
// master weights are, the loss falling as in float32; the data wait is logged; fp16 is refused.
TEST_F(TrainCli, Bfloat16TrainingSavesFloat32WeightsAndLearns) {
  const std::string dir = temp_dir("train_bf16");
  auto r = run_command(train_command(data_, dir + "/bf16", "--epochs 4 --precision bf16 --no-report"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("loader threads, bf16"), std::string::npos) << r.output;
  for (const auto& [name, tensor] : load_state_dict(dir + "/bf16/last.pth")) {
    if (tensor.is_floating_point()) {
      EXPECT_EQ(tensor.scalar_type(), at::kFloat) << name;
    }
  }
  std::vector<nlohmann::json> epochs;
  std::ifstream log(dir + "/bf16/metrics.jsonl");
  for (std::string line; std::getline(log, line);) epochs.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(epochs.size(), 4u);
  EXPECT_LT(epochs.back()["loss"].get<double>(), epochs.front()["loss"].get<double>());
  for (const auto& e : epochs) {
    EXPECT_GE(e["data_wait_seconds"].get<double>(), 0);
    EXPECT_LE(e["data_wait_seconds"].get<double>(), e["seconds"].get<double>());
  }
  r = run_command(train_command(data_, dir + "/fp16", "--epochs 1 --precision fp16"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--precision: precision fp16 is not offered for training"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << "one line:\n" << r.output;
}

TEST_F(TrainCli, NanLossStopsAndKeepsTheLastGoodCheckpoint) {
  const std::string dir = temp_dir("train_nan");
  // Epoch 1 trains normally; from epoch 2 the step schedule multiplies the rate by 1e36.
  const auto r =
      run_command(train_command(data_, dir, "--epochs 3 --optimizer sgd --schedule step --step-epochs 1 --gamma 1e36"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("the loss became"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the last good checkpoint is " + dir + "/last.pth"), std::string::npos) << r.output;
  EXPECT_EQ(count_lines(dir + "/metrics.jsonl"), 1);
  for (const auto& [key, tensor] : load_state_dict(dir + "/last.pth")) {
    if (tensor.is_floating_point()) {
      EXPECT_TRUE(at::isfinite(tensor).all().item<bool>()) << key;
    }
  }
}

TEST_F(TrainCli, FullDiskKeepsThePreviousCheckpoint) {
  const std::string dir = temp_dir("train_full_disk");
  ASSERT_EQ(run_command(train_command(data_, dir, "--epochs 1")).exit_code, 0);
  const std::string last = read_file(dir + "/last.pth"), best = read_file(dir + "/best.pth");
  const std::string resume = read_file(dir + "/resume.pt");
  // Files may not grow past 8 KiB: every checkpoint write fails as on a full disk. segkit
  // ignores SIGXFSZ itself (its default kills the process, leaving the temporary).
  const auto r = run_command("bash -c 'ulimit -f 8; " + train_command(data_, dir, "--epochs 2 --resume") + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("segkit: error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("File too large"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(dir + "/last.pth"), last);
  EXPECT_EQ(read_file(dir + "/best.pth"), best);
  EXPECT_EQ(read_file(dir + "/resume.pt"), resume);
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << "left behind: " << entry.path();
  }
}

// Three classes as indices, and a border of 9s: pixels that do not count (as CamVid's 11).
std::string make_index_dataset(const std::string& dir) {
  const std::string data = make_dataset(dir, 4);
  for (int i = 0; i < 4; ++i) {
    const std::string path = data + "/masks/" + std::to_string(i) + ".png";
    at::Tensor mask = read_image(path).pixels.select(2, 0).to(at::kLong).div(255, "floor");
    mask.slice(0, 10, 16).slice(1, 10, 16).fill_(2);
    mask.slice(0, 0, 2).fill_(9);
    write_label_png(mask, path);
  }
  return data;
}

TEST_F(TrainCli, CheckpointsCarryTheirModelForEvalPredictAndResume) {
  const std::string dir = temp_dir("train_record");
  const std::string data = make_index_dataset(dir + "/data");
  std::ofstream(dir + "/names.txt") << "wall\ncell\nnucleus\n";
  const std::string run = dir + "/run";
  const auto trained = run_command(train_command(data, run,
                                                 "--epochs 1 --num-classes 3 --mask-encoding index "
                                                 "--ignore-index 9 --class-names " +
                                                     dir + "/names.txt"));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const auto info = read_checkpoint_info(run + "/last.pth");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->model, "unet_padded");
  EXPECT_EQ(info->num_classes, 3);
  EXPECT_EQ(info->class_names, (std::vector<std::string>{"wall", "cell", "nucleus"}));
  EXPECT_EQ(info->ignore_index, 9);
  ASSERT_TRUE(info->unet.has_value());
  EXPECT_EQ(info->unet->depth(), 3);
  EXPECT_EQ(info->unet->base_width(), 4);
  ASSERT_TRUE(info->preprocess.has_value());
  EXPECT_EQ(info->preprocess->resize, 0) << "trained at the images' own scale";
  ASSERT_TRUE(info->palette.defined());
  EXPECT_NE(info->palette[0][3].item<int64_t>(), 0) << "class 0 is a real class here: coloured";

  // PyTorch reads the same file as a plain state dict.
  const auto python = run_command(std::string(SEGKIT_PYTHON) + " -c \"import torch; sd = torch.load('" + run +
                                  "/last.pth'); print(type(sd).__name__, len(sd), all(torch.is_tensor(v) for v in "
                                  "sd.values()))\"");
  EXPECT_EQ(python.output, "OrderedDict " + std::to_string(load_state_dict(run + "/last.pth").size()) + " True\n");

  // eval and predict need neither --model nor --ignore-index.
  const auto eval = run_command(kCli + " eval -w " + run + "/best.pth --images " + data + "/images --masks " + data +
                                "/masks --mask-encoding index");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("nucleus"), std::string::npos) << eval.output;
  EXPECT_NE(eval.output.find("class-average accuracy"), std::string::npos) << eval.output;
  // Resized and in batches, scored at the masks' size.
  const auto resized = run_command(kCli + " eval --json --batch 3 --resize 56 -w " + run + "/best.pth --images " +
                                       data + "/images --masks " + data + "/masks --mask-encoding index",
                                   /*with_stderr=*/false);
  ASSERT_EQ(resized.exit_code, 0) << resized.output;
  EXPECT_EQ(nlohmann::json::parse(resized.output)["images"], 4);
  const auto other_ignore = run_command(kCli + " eval -w " + run + "/best.pth --images " + data + "/images --masks " +
                                        data + "/masks --mask-encoding index --ignore-index 255");
  EXPECT_EQ(other_ignore.exit_code, 1);
  EXPECT_NE(other_ignore.output.find("mask value 9 is not a class (0 to 2) nor the ignore index 255; if it marks "
                                     "pixels that do not count, give --ignore-index 9"),
            std::string::npos)
      << other_ignore.output;
  const auto predicted =
      run_command(kCli + " predict -w " + run + "/last.pth -o " + dir + "/out " + data + "/images/0.png");
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  EXPECT_GT(read_image(dir + "/out/0_overlay.png").width(), 40) << "a legend beside the image";
  const auto contradicted =
      run_command(kCli + " predict -m unet -w " + run + "/last.pth -o " + dir + "/out2 " + data + "/images/0.png");
  EXPECT_EQ(contradicted.exit_code, 1);
  EXPECT_NE(contradicted.output.find("--model unet contradicts " + run + "/last.pth, a checkpoint of unet_padded"),
            std::string::npos)
      << contradicted.output;

  // --resume needs only the folder: the run's config.toml supplies the rest.
  const auto resumed = run_command(kCli + " train --resume --epochs 2 --threads 1 -o " + run);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming after epoch 1"), std::string::npos) << resumed.output;
  std::ifstream log(run + "/metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(log, line); ++lines) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["time"].get<std::string>().size(), 20u) << line;  // 2026-11-26T10:04:05Z
    EXPECT_TRUE(j["validation"]["loss"].is_number()) << line;
  }
  EXPECT_EQ(lines, 2);
}

TEST_F(TrainCli, RefusesAnotherRunsFolderAndWeightsOfAnotherModel) {
  const std::string dir = temp_dir("train_refusals");
  ASSERT_EQ(run_command(train_command(data_, dir + "/run", "--epochs 1")).exit_code, 0);
  const auto again = run_command(train_command(data_, dir + "/run", "--epochs 1"));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(
      again.output.find(
          dir + "/run: holds another run (last.pth, best.pth, resume.pt, metrics.jsonl, "
                "config.toml, report.html, curves.png, confusion.png); give --resume to continue it, --overwrite to "
                "replace it"),
      std::string::npos)
      << again.output;
  EXPECT_EQ(std::count(again.output.begin(), again.output.end(), '\n'), 1) << again.output;
  const auto replaced = run_command(train_command(data_, dir + "/run", "--epochs 1 --overwrite"));
  EXPECT_EQ(replaced.exit_code, 0) << replaced.output;
  EXPECT_NE(replaced.output.find("--overwrite: removed the earlier run's"), std::string::npos) << replaced.output;

  // Weights of a U-Net twice as wide fit none of this one's convolutions.
  const std::string wide = dir + "/wide";
  ASSERT_EQ(run_command(kCli + " train -m unet_padded --depth 3 --width 8 --batch-norm true --images " + data_ +
                        "/images --masks " + data_ +
                        "/masks --crop 32 --batch 4 --epoch-size 8 --epochs 1 "
                        "--threads 1 -o " +
                        wide)
                .exit_code,
            0);
  const auto refused = run_command(train_command(data_, dir + "/from_wide", "--epochs 1 -w " + wide + "/last.pth"));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find(wide + "/last.pth: only "), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--min-weight-match 0 trains from what fits"), std::string::npos) << refused.output;
  EXPECT_FALSE(fs::exists(dir + "/from_wide/last.pth"));
  const auto allowed =
      run_command(train_command(data_, dir + "/from_wide", "--epochs 1 --min-weight-match 0 -w " + wide + "/last.pth"));
  EXPECT_EQ(allowed.exit_code, 0) << allowed.output;
}

TEST_F(TrainCli, DrawsTheRunsReportCheckedInChromium) {
  const std::string run = temp_dir("train_report");
  const auto trained = run_command(train_command(data_, run, "--epochs 3"));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(trained.output.find("report: " + run + "/report.html"), std::string::npos) << trained.output;
  // The curves (loss, validation, learning rate) and the confusion matrix as PNG.
  const Image curves = read_image(run + "/curves.png");
  EXPECT_EQ(curves.width(), 640);
  EXPECT_EQ(curves.height(), 360 + 360 + 220);
  const Image confusion = read_image(run + "/confusion.png");
  EXPECT_GT(confusion.height(), 2 * 48);
  // The page opens in a real browser without a console message, every image decoded.
  const auto page = testing::render_in_chromium(run + "/report.html");
  ASSERT_EQ(page.exit_code, 0) << "is Debian's chromium installed?";
  EXPECT_EQ(page.console, "") << "the browser's console";
  EXPECT_NE(page.dom.find("images decoded: 6/6"), std::string::npos)
      << "curves, confusion matrix and 4 validation images:\n"
      << page.dom.substr(0, 2000);
  EXPECT_NE(page.dom.find("the image, its truth, the prediction"), std::string::npos);
  const std::string rows = "<tr><td>3</td>";
  EXPECT_NE(page.dom.find(rows), std::string::npos) << "a row per epoch";

  // segkit plot redraws it from the folder alone.
  fs::remove(run + "/report.html");
  fs::remove(run + "/curves.png");
  const auto plotted = run_command(kCli + " plot --samples 2 --threads 1 " + run);
  ASSERT_EQ(plotted.exit_code, 0) << plotted.output;
  EXPECT_TRUE(fs::exists(run + "/curves.png"));
  const auto again = testing::render_in_chromium(run + "/report.html");
  EXPECT_EQ(again.console, "");
  EXPECT_NE(again.dom.find("images decoded: 4/4"), std::string::npos);
  const auto missing = run_command(kCli + " plot " + run + "/nope");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find(run + "/nope: no such run folder"), std::string::npos) << missing.output;
  EXPECT_EQ(std::count(missing.output.begin(), missing.output.end(), '\n'), 1) << missing.output;
}

}  // namespace
}  // namespace segkit
