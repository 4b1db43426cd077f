// The training loop's reports and limits, on a tiny U-Net and generated images: validation
// tells its progress, the ETA counts the validations still to come, the time limit stops
// within one step.

#include <gtest/gtest.h>

#include <filesystem>
#include <tuple>

#include "segkit/io/image.h"
#include "segkit/models/zoo.h"
#include "segkit/train/semantic_training.h"
#include "segkit/train/trainer.h"
#include "test_util.h"

namespace segkit {
namespace {

namespace fs = std::filesystem;

struct RecordingHooks : TrainHooks {
  std::vector<StepReport> steps;
  std::vector<std::pair<size_t, size_t>> validations;
  std::vector<std::string> messages;
  std::vector<std::tuple<std::string, size_t, size_t>> progress;
  void on_progress(const std::string& what, size_t done, size_t total) override {
    progress.emplace_back(what, done, total);
  }
  void on_step(const StepReport& r) override { steps.push_back(r); }
  void on_validation(size_t done, size_t total) override { validations.emplace_back(done, total); }
  void on_message(const std::string& text) override { messages.push_back(text); }
};

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir("trainer");
    fs::create_directories(dir_ + "/images");
    fs::create_directories(dir_ + "/masks");
    at::manual_seed(2);
    for (int i = 0; i < 5; ++i) {
      const at::Tensor mask = at::rand({16, 16}).gt(0.5).to(at::kLong);
      const at::Tensor gray = (mask * 150 + 50).to(at::kByte).unsqueeze(2).expand({16, 16, 3}).contiguous();
      write_rgb_png(gray, dir_ + "/images/" + std::to_string(i) + ".png");
      write_label_png(mask, dir_ + "/masks/" + std::to_string(i) + ".png");
    }
    DatasetOptions data;
    data.encoding = MaskEncoding::kIndex;
    data_ = std::make_unique<SegmentationDataset>(pair_folders(dir_ + "/images", dir_ + "/masks"), data);
    SemanticTrainingOptions semantic;
    semantic.augment.crop = 16;
    task_ = std::make_unique<SemanticTraining>(*data_, nullptr, Preprocess::gray(), semantic);
    options_.epochs = 2;
    options_.batch_size = 2;
    options_.workers = 1;
    options_.output_dir = dir_ + "/run";
  }

  Model model() const {
    ZooEntry entry = find_model("unet_padded");
    std::get<UNetOptions>(entry.architecture).depth(2).base_width(4);
    return build_model(entry, {2, false});
  }

  std::string dir_;
  std::unique_ptr<SegmentationDataset> data_;
  std::unique_ptr<SemanticTraining> task_;
  TrainOptions options_;
};

TEST_F(TrainerTest, ValidationReportsProgressAndTheEtaCountsIt) {
  RecordingHooks hooks;
  Trainer(model(), *task_, options_, hooks).run();
  // Two validations of the five images, each image told.
  ASSERT_EQ(hooks.validations.size(), 10u);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(hooks.validations[i], std::make_pair(i % 5 + 1, size_t{5}));
  // Two steps an epoch. After the very last step only the last validation is left: the ETA
  // is that validation's expected time, not zero.
  ASSERT_EQ(hooks.steps.size(), 4u);
  EXPECT_EQ(hooks.steps.back().epoch, 2);
  EXPECT_EQ(hooks.steps.back().step, 2);
  EXPECT_GT(hooks.steps.back().eta_seconds, 0);
  EXPECT_EQ(testing::count_lines(options_.output_dir + "/metrics.jsonl"), 2);
}

TEST_F(TrainerTest, TheTimeLimitStopsWithinOneStepAndSaysSo) {
  RecordingHooks hooks;
  options_.time_limit_s = 1e-6;
  Trainer(model(), *task_, options_, hooks).run();
  ASSERT_EQ(hooks.steps.size(), 1u) << "stopped after the step that passed the limit";
  EXPECT_TRUE(hooks.validations.empty());
  ASSERT_FALSE(hooks.messages.empty());
  EXPECT_NE(hooks.messages.back().find("at step 1/2 of epoch 1; last.pth holds these weights (not validated)"),
            std::string::npos)
      << hooks.messages.back();
  EXPECT_TRUE(fs::exists(options_.output_dir + "/last.pth"));
  EXPECT_FALSE(fs::exists(options_.output_dir + "/resume.pt")) << "resume.pt stays at the last whole epoch (none)";
}

TEST_F(TrainerTest, WeightMapsReportTheirProgress) {
  SemanticTrainingOptions semantic;
  semantic.augment.crop = 16;
  semantic.weight_map = true;
  SemanticTraining task(*data_, nullptr, Preprocess::gray(), semantic);
  RecordingHooks hooks;
  task.prepare(2, hooks);
  ASSERT_FALSE(hooks.progress.empty());
  EXPECT_EQ(hooks.progress.back(), std::make_tuple(std::string("weight maps"), size_t{5}, size_t{5}));
}

}  // namespace
}  // namespace segkit
