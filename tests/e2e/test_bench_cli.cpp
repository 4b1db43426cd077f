// `segkit bench` as a user runs it: its count of a model's arithmetic against the reference
// model's (tools/flop_reference.py: forward hooks on torchvision's layers), figures that agree
// with each other, the stages of each task, and one-line errors.

#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>
#include <string>

#include "segkit/io/image.h"
#include "segkit/models/zoo.h"
#include "test_util.h"

namespace segkit {
namespace {

using testing::run_command;

const std::string kCli = SEGKIT_CLI;

// `segkit bench ARGS --json`: its one line, parsed (stdout alone).
nlohmann::json bench(const std::string& args) {
  const auto result = run_command(kCli + " bench " + args + " --json", /*with_stderr=*/false);
  EXPECT_EQ(result.exit_code, 0) << args << "\n" << result.output;
  return nlohmann::json::parse(result.output);
}

std::string joined(const nlohmann::json& sizes) {
  std::string text;
  for (const auto& s : sizes) text += (text.empty() ? "" : ",") + std::to_string(s.get<int64_t>());
  return text;
}

// The reference's count for the same model and input shape.
double reference_flops(const std::string& model, const std::string& input) {
  const ZooEntry& entry = find_model(model);
  std::string command = std::string(SEGKIT_PYTHON) + " " + SEGKIT_SOURCE_DIR + "/tools/flop_reference.py --model " +
                        model + " --task " + task_name(entry.task) + " --classes " + std::to_string(entry.num_classes) +
                        " --input " + input;
  if (const auto* unet = std::get_if<UNetOptions>(&entry.architecture)) {
    const nlohmann::json options{{"in_channels", unet->in_channels()}, {"depth", unet->depth()},
                                 {"base_width", unet->base_width()},   {"padding", unet->padding()},
                                 {"batch_norm", unet->batch_norm()},   {"upsampling", "transposed"}};
    EXPECT_EQ(unet->upsampling(), Upsampling::kTransposed) << "the reference builds transposed upsampling";
    command += " --unet '" + options.dump() + "'";
  }
  const auto result = run_command(command, /*with_stderr=*/false);
  EXPECT_EQ(result.exit_code, 0) << "the reference could not run:\n" << command;
  return nlohmann::json::parse(result.output).at("flops").get<double>();
}

// Semantic (with aux heads in torchvision's model, none run by segkit), classification
// (depthwise and grouped convolutions, linear layers), the paper's U-Net (transposed
// convolutions, an input grown to a size it takes), a batch of two.
TEST(BenchCli, CountsTheReferencesArithmeticAndReportsConsistentFigures) {
  for (const std::string args :
       {"fcn_resnet50 --size 67", "lraspp_mobilenet_v3_large --height 97 --width 75",
        "resnext50_32x4d --size 65 --batch 2", "efficientnet_b0 --size 79", "unet --size 45"}) {
    SCOPED_TRACE(args);
    const nlohmann::json line = bench(args + " --runs 2 --warmup 0 --threads 1");
    const std::string input = joined(line.at("input"));
    const double expected = reference_flops(line.at("model"), input);
    EXPECT_NEAR(line.at("gflop").get<double>() * 1e9, expected, expected * 1e-9) << "input " << input;
    // The figures agree with each other.
    const double ms = line.at("median_ms");
    EXPECT_GT(ms, 0);
    EXPECT_LE(line.at("min_ms").get<double>(), ms);
    EXPECT_GE(line.at("max_ms").get<double>(), ms);
    EXPECT_NEAR(line.at("gflops").get<double>(), line.at("gflop").get<double>() / (ms / 1000), 1e-6);
    EXPECT_NEAR(line.at("images_per_s").get<double>(), line.at("batch").get<double>() / (ms / 1000), 1e-6);
    EXPECT_NEAR(line.at("share_of_matmul").get<double>(),
                line.at("gflops").get<double>() / line.at("matmul_gflops").get<double>(), 1e-9);
    EXPECT_GT(line.at("matmul_gflops").get<double>(), 0.1);
    EXPECT_GT(line.at("peak_rss_mib").get<double>(), line.at("inference_peak_mib").get<double>());
    EXPECT_EQ(line.at("precision"), "fp32");
    EXPECT_EQ(line.at("weights"), "random");
  }
  const nlohmann::json unet = bench("unet --size 45 --runs 1 --warmup 0");
  EXPECT_EQ(joined(unet.at("input")), "1,1,188,188") << "45 grown to the paper U-Net's next valid size";
}

// With an image: predict's stages for a semantic model (in bf16 where asked), classify's for a
// classifier; an instance model runs on it, step by step, and counts its detections.
TEST(BenchCli, TimesEachStageOnAnImage) {
  const std::string dir = testing::temp_dir("bench_stages");
  const std::string image = dir + "/photo.png";
  write_rgb_png(at::randint(0, 256, {61, 83, 3}, at::kByte), image);
  const auto stages = [](const nlohmann::json& line) {
    std::vector<std::string> names;
    for (const auto& [name, ms] : line.at("stages_ms").items()) {
      EXPECT_GE(ms.get<double>(), 0) << name;
      names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  const nlohmann::json semantic =
      bench("lraspp_mobilenet_v3_large --image " + image + " --size 64 --runs 1 --warmup 0 --precision bf16");
  EXPECT_EQ(stages(semantic), (std::vector<std::string>{"decode", "mask_png", "network", "overlay_blend", "overlay_png",
                                                        "preprocess", "resize_argmax"}));
  EXPECT_EQ(semantic.at("precision"), "bf16");
  const nlohmann::json classifier = bench("mobilenet_v3_small --image " + image + " --runs 1 --warmup 0");
  EXPECT_EQ(stages(classifier), (std::vector<std::string>{"decode", "network", "preprocess", "top_classes"}));
  EXPECT_EQ(joined(classifier.at("input")), "1,3,224,224") << "the preset's crop";
  const nlohmann::json instance = bench("fasterrcnn_mobilenet_v3_large_fpn --image " + image + " --runs 1 --warmup 0");
  EXPECT_EQ(stages(instance), (std::vector<std::string>{"backbone", "paste", "roi_heads", "rpn", "transform"}));
  EXPECT_EQ(joined(instance.at("input")), "1,3,61,83") << "the image as it is";
  EXPECT_GE(instance.at("detections").get<int64_t>(), 0);
  EXPECT_GT(instance.at("gflop").get<double>(), 0);
  std::filesystem::remove_all(dir);
}

// --streams: that many networks at once; their images per second together, in the units of the
// one-network figure (two single-threaded networks on two threads do not run 10 times faster
// or slower than one on both), and the table says so. Instance models keep one.
TEST(BenchCli, StreamsTimeSeveralNetworksAtOnce) {
  const nlohmann::json line =
      bench("lraspp_mobilenet_v3_large --size 64 --runs 8 --warmup 2 --threads 2 --streams 2 --precision bf16");
  EXPECT_EQ(line.at("streams"), 2);
  // Within a factor of 10 of each other: the figures are per image, not per run or per stream
  // (enough runs that another test busy on the same cores cannot swing them that far).
  const double one = line.at("images_per_s"), together = line.at("streams_images_per_s");
  EXPECT_GT(together, one / 10);
  EXPECT_LT(together, one * 10);
  EXPECT_GT(line.at("streams_peak_rss_mib").get<double>(), 0);
  const nlohmann::json instance = bench("fasterrcnn_mobilenet_v3_large_fpn --size 64 --runs 1 --warmup 0 --streams 2");
  EXPECT_FALSE(instance.contains("streams"));
  const auto table =
      run_command(kCli + " bench lraspp_mobilenet_v3_large --size 64 --runs 1 --warmup 0 --threads 2 --streams 2");
  EXPECT_NE(table.output.find("images/s with 2 streams at once"), std::string::npos) << table.output;
  const auto zero = run_command(kCli + " bench lraspp_mobilenet_v3_large --streams 0");
  EXPECT_NE(zero.exit_code, 0);
  EXPECT_EQ(std::count(zero.output.begin(), zero.output.end(), '\n'), 1) << zero.output;
}

TEST(BenchCli, ATableForPeopleAndOneLineErrors) {
  const auto table = run_command(kCli + " bench lraspp_mobilenet_v3_large --size 64 --runs 1 --warmup 0");
  EXPECT_EQ(table.exit_code, 0) << table.output;
  for (const char* row :
       {"latency", "throughput", "GFLOP a run", "% of this machine's fp32 matrix product", "memory"}) {
    EXPECT_NE(table.output.find(row), std::string::npos) << row << " in\n" << table.output;
  }
  const auto unknown = run_command(kCli + " bench no_such_model");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("no_such_model"), std::string::npos) << unknown.output;
  EXPECT_NE(unknown.output.find("lraspp_mobilenet_v3_large"), std::string::npos) << "lists the known models";
  const auto missing = run_command(kCli + " bench lraspp_mobilenet_v3_large --image /nonexistent/photo.png");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("/nonexistent/photo.png"), std::string::npos) << missing.output;
  EXPECT_EQ(std::count(missing.output.begin(), missing.output.end(), '\n'), 1) << missing.output;
  const auto nothing = run_command(kCli + " bench");
  EXPECT_NE(nothing.exit_code, 0);
  EXPECT_EQ(std::count(nothing.output.begin(), nothing.output.end(), '\n'), 1) << nothing.output;
}

}  // namespace
}  // namespace segkit
