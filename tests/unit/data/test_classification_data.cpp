// Classification data: the ImageFolder layout and its bad files, list files, and the
// augmentations (random resized crop, colour jitter, mixup, CutMix).

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "segkit/core/errors.h"
#include "segkit/data/classification_augment.h"
#include "segkit/data/classification_dataset.h"
#include "segkit/io/image.h"
#include "test_util.h"

namespace segkit {
namespace {

namespace fs = std::filesystem;

void write_image(const std::string& path, int64_t h, int64_t w, uint8_t value) {
  write_rgb_png(at::full({h, w, 3}, value, at::kByte), path);
}

std::string make_folder(const std::string& name) {
  const std::string root = testing::temp_dir(name);
  for (const char* c : {"wasps", "ants", "bees"}) fs::create_directories(root + "/" + c);
  write_image(root + "/ants/a1.png", 9, 7, 10);
  write_image(root + "/ants/a2.png", 8, 8, 20);
  write_image(root + "/bees/b1.png", 10, 6, 30);
  write_image(root + "/wasps/w1.png", 5, 5, 40);
  std::ofstream(root + "/bees/.DS_Store") << "hidden files are not samples";
  return root;
}

TEST(ImageFolder, ClassesAreSortedFolderNamesAndEveryFileCounts) {
  const std::string root = make_folder("imagefolder");
  const ClassSamples samples = scan_image_folder(root);
  EXPECT_EQ(samples.classes, (std::vector<std::string>{"ants", "bees", "wasps"}));
  ASSERT_EQ(samples.samples.size(), 4u);
  EXPECT_EQ(samples.samples[2].label, 1);
  const ClassificationDataset data(samples, {});
  EXPECT_EQ(data.size(), 4u);
  EXPECT_EQ(data.image(3).sizes(), (std::vector<int64_t>{5, 5, 3}));
  EXPECT_EQ(data.label(3), 2);
}

TEST(ImageFolder, AFileThatIsNoImageIsAnErrorNamingItOrSkipped) {
  const std::string root = make_folder("imagefolder_bad");
  std::ofstream(root + "/ants/imageNotFound.gif") << "GIF89a not really";
  try {
    ClassificationDataset(scan_image_folder(root), {});
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("imageNotFound.gif"), std::string::npos) << message;
    EXPECT_NE(message.find("--skip-bad"), std::string::npos) << message;
  }
  ClassificationDatasetOptions options;
  options.skip_bad = true;
  const ClassificationDataset data(scan_image_folder(root), options);
  EXPECT_EQ(data.size(), 4u);
  ASSERT_EQ(data.skipped().size(), 1u);
  EXPECT_NE(data.skipped()[0].find("imageNotFound.gif"), std::string::npos);
}

TEST(ImageFolder, ListFilesNameTheLineOfABadLabel) {
  const std::string root = make_folder("classlist");
  std::ofstream(root + "/list.txt") << "ants/a1.png 0\nbees/b1.png 1\n\nwasps/w1.png two\n";
  try {
    read_class_list(root + "/list.txt");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("list.txt:4"), std::string::npos) << e.what();
  }
  std::ofstream(root + "/list.txt") << "ants/a1.png 0\nbees/b1.png 2\n";
  const ClassSamples samples = read_class_list(root + "/list.txt");
  EXPECT_EQ(samples.classes.size(), 3u);
  EXPECT_EQ(samples.samples[1].path, root + "/bees/b1.png");
}

TEST(ClassAugment, RandomResizedCropsStayInsideWithTheirAreaAndAspect) {
  ClassAugmentOptions o;
  std::mt19937_64 rng(5);
  int within = 0;
  constexpr int kDraws = 400;
  for (int i = 0; i < kDraws; ++i) {
    const auto [top, left, h, w] = random_resized_crop_box(120, 200, o, rng);
    ASSERT_GE(top, 0);
    ASSERT_GE(left, 0);
    ASSERT_LE(top + h, 120);
    ASSERT_LE(left + w, 200);
    const double area = static_cast<double>(h * w) / (120.0 * 200.0);
    const double aspect = static_cast<double>(w) / static_cast<double>(h);
    within += area >= 0.07 && area <= 1.0 && aspect >= 0.7 && aspect <= 1.4;
  }
  EXPECT_GT(within, kDraws * 9 / 10);
  const at::Tensor out = augment_for_classification(at::zeros({50, 70, 3}, at::kByte), o, Preprocess::imagenet(), rng);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, 224, 224}));
}

TEST(ClassAugment, BrightnessScalesAndNothingElseChanges) {
  ClassAugmentOptions o;
  o.brightness = 0.4;
  std::mt19937_64 rng(2);
  const at::Tensor x = at::rand({3, 8, 9}) * 0.5;  // no clamping at 1 for factors up to 1.4
  const at::Tensor y = color_jitter(x, o, rng);
  const double factor = (y.sum() / x.sum()).item<double>();
  EXPECT_TRUE(factor >= 0.6 && factor <= 1.4) << factor;
  EXPECT_TRUE(at::allclose(y, (x * factor).clamp(0, 1), 1e-5, 1e-6));
  ClassAugmentOptions none;
  EXPECT_TRUE(color_jitter(x, none, rng).equal(x));
  ClassAugmentOptions hue;
  hue.hue = 0.1;
  const at::Tensor shifted = color_jitter(x, hue, rng);
  // A hue shift keeps each pixel's brightest channel (the HSV value).
  EXPECT_TRUE(at::allclose(std::get<0>(shifted.max(0)), std::get<0>(x.max(0)), 1e-5, 1e-5));
}

TEST(ClassAugment, MixupAndCutmixMixImagesAndLabelsInTheSameProportion) {
  at::manual_seed(1);
  const at::Tensor images = at::rand({4, 3, 16, 16});
  const at::Tensor labels = at::tensor({0, 1, 2, 1}, at::kLong);
  ClassAugmentOptions mixup;
  mixup.mixup_alpha = 0.4;
  std::mt19937_64 rng(3);
  at::Tensor mixed = images.clone();
  const at::Tensor soft = mix_batch(mixed, labels, 3, mixup, rng);
  EXPECT_TRUE(at::allclose(soft.sum(1), at::ones({4})));
  const double lambda = soft[0][0].item<double>();  // sample 0 (class 0) mixed with sample 3 (class 1)
  EXPECT_TRUE(at::allclose(mixed[0], images[0] * lambda + images[3] * (1 - lambda), 1e-5, 1e-6));

  ClassAugmentOptions cutmix;
  cutmix.cutmix_alpha = 1.0;
  at::Tensor cut = images.clone();
  const at::Tensor cut_soft = mix_batch(cut, labels, 3, cutmix, rng);
  const double kept = cut_soft[2][2].item<double>();  // sample 2 (class 2) pasted from sample 1 (class 1)
  const double unchanged = cut[2].eq(images[2]).all(0).to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(unchanged, kept, 1e-9) << "the label keeps the share of pixels the image keeps";
}

}  // namespace
}  // namespace segkit
