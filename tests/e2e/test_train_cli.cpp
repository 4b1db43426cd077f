// segkit train, eval and tiled predict from the command line, on small generated
// membrane-like data: resume after kill -9, bad inputs, a NaN loss, a full disk.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "segkit/core/atomic_file.h"
#include "segkit/core/checkpoint.h"
#include "segkit/io/image.h"
#include "test_util.h"

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
  for (const char* delay : {"0", "0.15", "0.4"}) {
    SCOPED_TRACE(std::string("killed ") + delay + " s after the first epoch");
    const std::string out = dir + "/killed" + delay;
    const auto killed = run_command(
        "bash -c '" + train_command(data_, out, epochs) + " >/dev/null 2>&1 & pid=$!; until grep -q epoch " + out +
        "/metrics.jsonl 2>/dev/null; do sleep 0.02; done; sleep " + delay + "; kill -9 $pid; wait $pid; echo killed'");
    ASSERT_NE(killed.output.find("killed"), std::string::npos) << killed.output;
    ASSERT_LT(count_lines(out + "/metrics.jsonl"), 6) << "the kill came too late to test anything";
    const auto resumed = run_command(train_command(data_, out, epochs + " --resume"));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_NE(resumed.output.find("resuming after epoch"), std::string::npos) << resumed.output;
    expect_same_weights(dir + "/full/last.pth", out + "/last.pth");
    EXPECT_EQ(count_lines(out + "/metrics.jsonl"), 6);
  }
}

TEST_F(TrainCli, SavedConfigurationReproducesTheRun) {
  const std::string dir = temp_dir("train_config");
  ASSERT_EQ(run_command(train_command(data_, dir + "/a", "--epochs 2")).exit_code, 0);
  std::ifstream config(dir + "/a/config.toml");
  ASSERT_TRUE(config.good());
  const auto again = run_command(kCli + " --config " + dir + "/a/config.toml train -o " + dir + "/b");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  expect_same_weights(dir + "/a/last.pth", dir + "/b/last.pth");
}

TEST_F(TrainCli, EvalReportsMembraneMeasuresAndTiledPredictMatchesWhole) {
  const std::string dir = temp_dir("train_eval");
  ASSERT_EQ(run_command(train_command(data_, dir, "--epochs 2")).exit_code, 0);
  const auto eval = run_command(kCli + " eval -m unet_padded -w " + dir + "/last.pth --images " + data_ +
                                "/images --masks " + data_ + "/masks --report " + dir + "/report.json");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("pixel error"), std::string::npos) << eval.output;
  EXPECT_NE(eval.output.find("cell interior"), std::string::npos) << eval.output;
  const std::string report = read_file(dir + "/report.json");
  EXPECT_NE(report.find("\"rand_error\""), std::string::npos);
  EXPECT_NE(report.find("\"confusion_matrix\""), std::string::npos);
  EXPECT_NE(report.find("\"pixels\": 9600"), std::string::npos) << "6 images of 40 x 40";

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
  EXPECT_NE(r.output.find("images/2.png: not a readable image"), std::string::npos) << r.output;
  r = run_command(train_command(broken, dir + "/o5", "--epochs 1 --skip-bad"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: skipping a sample: " + broken + "/images/2.png"), std::string::npos) << r.output;
  // Every failure above is one line of error, no crash.
  EXPECT_EQ(r.output.find("terminate"), std::string::npos);
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
  // Files may not grow past 8 KiB: every checkpoint write fails as on a full disk.
  const auto r =
      run_command("bash -c 'trap \"\" XFSZ; ulimit -f 8; " + train_command(data_, dir, "--epochs 2 --resume") + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("segkit: error: "), std::string::npos) << r.output;
  EXPECT_EQ(read_file(dir + "/last.pth"), last);
  EXPECT_EQ(read_file(dir + "/best.pth"), best);
  EXPECT_EQ(read_file(dir + "/resume.pt"), resume);
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << "left behind: " << entry.path();
  }
}

}  // namespace
}  // namespace segkit
