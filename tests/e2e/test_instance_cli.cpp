// Instance segmentation from the command line, as a user runs it: `segkit predict` with a
// light Mask R-CNN (random weights, COCO's 91 classes) on crops of the real datasets, against
// torchvision's detections for the same weights and images (tools/make_parity_fixtures.py):
// the COCO results file, the instance maps and the overlays; then bad input.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "reference_tensors.h"
#include "segkit/eval/rle.h"
#include "segkit/io/image.h"
#include "segkit/io/label_image.h"
#include "segkit/io/palette.h"
#include "test_util.h"

namespace segkit {
namespace {

namespace fs = std::filesystem;
using testing::fixture;
using testing::run_command;
using testing::temp_dir;

const std::string kCli = SEGKIT_CLI;
const std::string kModel = "maskrcnn_mobilenet_v3_large_fpn";
const std::vector<std::string> kImages = {"ants_97x131.png", "camvid_90x144.png"};

std::string crop(const std::string& name) {
  return std::string(SEGKIT_SOURCE_DIR) + "/tests/fixtures/detection/" + name;
}

// The settings the reference was made with: both images in one batch, padded to one size.
std::string predict(const std::string& out, const std::string& extra = "") {
  return kCli + " predict --threads 2 -m " + kModel + " -w " + fixture("instance_cli/weights.pth") + " " +
         crop(kImages[0]) + " " + crop(kImages[1]) + " --min-size 320 --max-size 512 --score-thresh 0.5 --batch 2 -o " +
         out + " " + extra;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

double iou(const at::Tensor& a, const at::Tensor& b) {
  const double uni = a.logical_or(b).sum().item<double>();
  return uni == 0 ? 1.0 : a.logical_and(b).sum().item<double>() / uni;
}

TEST(InstanceCli, PredictWritesTorchvisionsDetectionsAsCocoResultsMapsAndOverlays) {
  const std::string dir = temp_dir("instance_predict");
  const auto result = run_command(predict(dir + "/out", "--coco-results " + dir + "/results.json"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const testing::ReferenceTensors reference("instance_cli/tensors.pth");
  const nlohmann::json results = read_json(dir + "/results.json");
  size_t next = 0;
  for (size_t image = 0; image < kImages.size(); ++image) {
    SCOPED_TRACE(kImages[image]);
    const std::string i = std::to_string(image);
    const at::Tensor boxes = reference["boxes." + i], scores = reference["scores." + i];
    const at::Tensor labels = reference["labels." + i], masks = reference["masks." + i];
    const Image picture = read_image(crop(kImages[image]));
    // The results, best first, in the order of the inputs; the reference's detections in its order
    // (the scores here are far apart, see the reference's margins).
    at::Tensor expected_map = at::zeros({picture.height(), picture.width()}, at::kLong);
    std::vector<at::Tensor> decoded;
    for (int64_t d = 0; d < boxes.size(0); ++d, ++next) {
      ASSERT_LT(next, results.size());
      const nlohmann::json& r = results[next];
      EXPECT_EQ(r["image_id"].get<int64_t>(), static_cast<int64_t>(image));
      EXPECT_EQ(r["category_id"].get<int64_t>(), labels[d].item<int64_t>());
      EXPECT_NEAR(r["score"].get<double>(), scores[d].item<double>(), 1e-4);
      const auto bbox = r["bbox"].get<std::vector<double>>();
      const auto box = boxes[d];
      EXPECT_NEAR(bbox[0], box[0].item<double>(), 1e-3);
      EXPECT_NEAR(bbox[1], box[1].item<double>(), 1e-3);
      EXPECT_NEAR(bbox[0] + bbox[2], box[2].item<double>(), 1e-3);
      EXPECT_NEAR(bbox[1] + bbox[3], box[3].item<double>(), 1e-3);
      const auto size = r["segmentation"]["size"].get<std::vector<int64_t>>();
      EXPECT_EQ(size, (std::vector<int64_t>{picture.height(), picture.width()}));
      const at::Tensor mask =
          rle_decode(rle_from_string(r["segmentation"]["counts"].get<std::string>(), size[0], size[1]));
      // The same mask but for pixels whose probability rounds across 0.5 (segkit's convolutions
      // sum in another order than LibTorch's): a pixel or two of a small mask, 1% of a large one.
      const at::Tensor expected_mask = masks[d][0].ge(0.5);
      const int64_t differ = mask.to(at::kBool).ne(expected_mask).sum().item<int64_t>();
      EXPECT_LE(differ, std::max<int64_t>(2, mask.to(at::kBool).logical_or(expected_mask).sum().item<int64_t>() / 100))
          << "detection " << d << ": mask IoU " << iou(mask.to(at::kBool), expected_mask);
      decoded.push_back(mask.to(at::kBool));
    }
    ASSERT_GT(boxes.size(0), 0) << "the reference detects something in each image";
    // The instance map: detection k (1-based, best first) where its mask is, the better on top.
    for (int64_t d = static_cast<int64_t>(decoded.size()) - 1; d >= 0; --d)
      expected_map.masked_fill_(decoded[d], d + 1);
    const std::string stem = dir + "/out/" + fs::path(kImages[image]).stem().string();
    EXPECT_TRUE(read_label_image(stem + "_instances.png").equal(expected_map));
    const Image overlay = read_image(stem + "_overlay.png");
    EXPECT_EQ(overlay.pixels.sizes(), picture.pixels.sizes());
    EXPECT_TRUE(overlay.pixels.ne(picture.pixels).any(2).logical_and(expected_map.gt(0)).any().item<bool>())
        << "instances are coloured";
  }
  EXPECT_EQ(next, results.size()) << "no detection beyond the reference's";
  fs::remove_all(dir);
}

TEST(InstanceCli, ManyInstancesGiveA16BitMapAndCocoNamesAreTorchvisions) {
  const std::string dir = temp_dir("instance_many");
  const auto result = run_command(
      kCli + " predict --threads 2 -m " + kModel + " -w " + fixture("instance_cli/weights.pth") + " " +
      crop(kImages[0]) + " --min-size 320 --max-size 512 --score-thresh 0 --max-detections 300 --no-overlay -o " + dir);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string stem = dir + "/" + fs::path(kImages[0]).stem().string();
  EXPECT_FALSE(fs::exists(stem + "_overlay.png")) << "--no-overlay";
  const at::Tensor map = read_label_image(stem + "_instances.png");
  EXPECT_GT(map.max().item<int64_t>(), 255) << "more than 255 instances visible, in a 16-bit PNG";
  EXPECT_LE(map.max().item<int64_t>(), 300);
  const auto categories = read_json(fixture("instance_cli/coco_categories.json")).get<std::vector<std::string>>();
  EXPECT_EQ(dataset_class_names("coco"), categories);
  fs::remove_all(dir);
}

TEST(InstanceCli, BadInputIsOneLineNamingTheProblem) {
  const std::string dir = temp_dir("instance_bad");
  // A semantic model's checkpoint given to an instance model.
  auto result = run_command(kCli + " predict -m " + kModel + " -w " +
                            fixture(std::string("lraspp_mobilenet_v3_large") + "/weights.pth") + " " +
                            crop(kImages[0]) + " -o " + dir);
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("lraspp_mobilenet_v3_large/weights.pth"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("not a " + kModel + " checkpoint"), std::string::npos) << result.output;
  EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
  // Semantic-only options, and limits out of range.
  for (const char* extra : {"--tile 256", "--score-thresh 1.5", "--max-detections 0", "--min-size 0"}) {
    result = run_command(predict(dir, extra));
    EXPECT_NE(result.exit_code, 0) << extra;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << extra << ": " << result.output;
  }
  fs::remove_all(dir);
}

// The reference's detections as a COCO ground truth file: the model should find them all.
std::string write_reference_as_truth(const std::string& dir) {
  const testing::ReferenceTensors reference("instance_cli/tensors.pth");
  nlohmann::json file{{"images", nlohmann::json::array()},
                      {"annotations", nlohmann::json::array()},
                      {"categories", nlohmann::json::array()}};
  for (int64_t c = 1; c < 91; ++c) file["categories"].push_back({{"id", c}, {"name", "class " + std::to_string(c)}});
  int64_t id = 1;
  for (size_t image = 0; image < kImages.size(); ++image) {
    const std::string i = std::to_string(image);
    const Image picture = read_image(crop(kImages[image]));
    file["images"].push_back(
        {{"id", image}, {"height", picture.height()}, {"width", picture.width()}, {"file_name", kImages[image]}});
    const at::Tensor boxes = reference["boxes." + i].to(at::kDouble);
    for (int64_t d = 0; d < boxes.size(0); ++d) {
      const Rle rle = rle_encode(reference["masks." + i][d][0].ge(0.5));
      const double x = boxes[d][0].item<double>(), y = boxes[d][1].item<double>();
      file["annotations"].push_back(
          {{"id", id++},
           {"image_id", image},
           {"category_id", reference["labels." + i][d].item<int64_t>()},
           {"bbox", {x, y, boxes[d][2].item<double>() - x, boxes[d][3].item<double>() - y}},
           {"area", rle_area(rle)},
           {"iscrowd", 0},
           {"segmentation", {{"size", {rle.height, rle.width}}, {"counts", rle_to_string(rle)}}}});
    }
  }
  std::ofstream(dir + "/truth.json") << file.dump();
  return dir + "/truth.json";
}

TEST(InstanceCli, EvalFindsTheReferencesDetectionsTheSameFromTheModelAndFromItsResultsFile) {
  const std::string dir = temp_dir("instance_eval");
  const std::string truth = write_reference_as_truth(dir);
  const std::string settings = " --min-size 320 --max-size 512 --score-thresh 0.5 --batch 2 --json --threads 2";
  const auto from_model = run_command(kCli + " eval --task instance --gt " + truth + " --images " + crop("") + " -m " +
                                          kModel + " -w " + fixture("instance_cli/weights.pth") + settings,
                                      /*with_stderr=*/false);
  ASSERT_EQ(from_model.exit_code, 0) << from_model.output;
  const nlohmann::json report = nlohmann::json::parse(from_model.output);
  EXPECT_GT(report["bbox"]["AP"].get<double>(), 0.99) << "every detection has its own truth";
  EXPECT_GT(report["bbox"]["AR100"].get<double>(), 0.99);
  // Masks: a detection whose mask is empty (no probability reaches 0.5, as random weights
  // give) overlaps nothing, so as truth it is never found; every other is found at every
  // threshold. AR is then, per category, the share of non-empty masks, averaged.
  std::map<int64_t, std::pair<int, int>> per_category;  // (non-empty, all)
  std::ifstream truth_file(truth);
  const nlohmann::json truth_json = nlohmann::json::parse(truth_file);
  for (const auto& a : truth_json["annotations"]) {
    auto& [found, all] = per_category[a["category_id"].get<int64_t>()];
    found += a["area"].get<int64_t>() > 0;
    ++all;
  }
  double recall = 0;
  for (const auto& [category, counts] : per_category) recall += static_cast<double>(counts.first) / counts.second;
  EXPECT_NEAR(report["segm"]["AR100"].get<double>(), recall / per_category.size(), 1e-12);
  ASSERT_EQ(run_command(predict(dir + "/out", "--coco-results " + dir + "/results.json")).exit_code, 0);
  const auto from_file =
      run_command(kCli + " eval --task instance --gt " + truth + " --results " + dir + "/results.json --json", false);
  ASSERT_EQ(from_file.exit_code, 0) << from_file.output;
  EXPECT_EQ(nlohmann::json::parse(from_file.output), report) << "the same numbers both ways";
  fs::remove_all(dir);
}

TEST(InstanceCli, BadAnnotationsAreOneLineNamingTheFileAndTheAnnotation) {
  const std::string dir = temp_dir("instance_bad_truth");
  const auto write = [&](const std::string& name, const nlohmann::json& json) {
    std::ofstream(dir + "/" + name) << json.dump();
    return dir + "/" + name;
  };
  const nlohmann::json image = {{"id", 1}, {"height", 50}, {"width", 60}, {"file_name", "a.png"}};
  const nlohmann::json category = {{"id", 1}, {"name", "thing"}};
  const auto truth_with = [&](const nlohmann::json& annotation) {
    return nlohmann::json{{"images", {image}}, {"categories", {category}}, {"annotations", {annotation}}};
  };
  const nlohmann::json good = {{"id", 7},
                               {"image_id", 1},
                               {"category_id", 1},
                               {"bbox", {1, 2, 10, 10}},
                               {"area", 100},
                               {"iscrowd", 0},
                               {"segmentation", {{1, 2, 11, 2, 11, 12, 1, 12}}}};
  struct Case {
    std::string name, truth, results, expected;
  };
  nlohmann::json two_points = good, outside = good, unknown = good, bad_image = good;
  two_points["segmentation"] = {{1, 2, 11, 2}};
  outside["bbox"] = {55, 2, 10, 10};
  unknown["category_id"] = 3;
  bad_image["image_id"] = 4;
  const std::string good_truth = write("good.json", truth_with(good));
  const std::vector<Case> cases = {
      {"two points", write("two_points.json", truth_with(two_points)), "", "annotation 7 has a polygon of 2 points"},
      {"outside", write("outside.json", truth_with(outside)), "",
       "annotation 7 has a box [55, 2, 10, 10] outside its 60x50 image"},
      {"unknown category", write("unknown.json", truth_with(unknown)), "", "annotation 7 has category 3"},
      {"unknown image", write("image.json", truth_with(bad_image)), "", "annotation 7 is of image 4"},
      {"empty",
       write("empty.json", {{"images", {image}}, {"categories", {category}}, {"annotations", nlohmann::json::array()}}),
       "", "holds no annotations"},
      {"result of another image", good_truth,
       write("r1.json", {{{"image_id", 9}, {"category_id", 1}, {"bbox", {1, 2, 3, 4}}, {"score", 0.5}}}),
       "result 0 is for image 9"},
      {"result of another category", good_truth,
       write("r2.json", {{{"image_id", 1}, {"category_id", 5}, {"bbox", {1, 2, 3, 4}}, {"score", 0.5}}}),
       "result 0 has category 5"},
      {"result outside", good_truth,
       write("r3.json", {{{"image_id", 1}, {"category_id", 1}, {"bbox", {1, 60, 3, 4}}, {"score", 0.5}}}),
       "result 0 has a box [1, 60, 3, 4] outside its 60x50 image"},
  };
  for (const Case& c : cases) {
    const std::string results =
        c.results.empty()
            ? write("ok.json", {{{"image_id", 1}, {"category_id", 1}, {"bbox", {1, 2, 3, 4}}, {"score", 0.5}}})
            : c.results;
    const auto result = run_command(kCli + " eval --task instance --gt " + c.truth + " --results " + results);
    EXPECT_NE(result.exit_code, 0) << c.name;
    EXPECT_NE(result.output.find(c.expected), std::string::npos) << c.name << ": " << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << c.name << ": " << result.output;
  }
  // And the good file is fine: a perfect result scores 1 (within numpy.spacing's 2e-16).
  const auto ok = run_command(
      kCli + " eval --task instance --gt " + good_truth + " --results " +
          write("perfect.json", {{{"image_id", 1}, {"category_id", 1}, {"bbox", {1, 2, 10, 10}}, {"score", 0.5}}}) +
          " --json",
      false);
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NEAR(nlohmann::json::parse(ok.output)["bbox"]["AP"].get<double>(), 1.0, 1e-12);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace segkit
