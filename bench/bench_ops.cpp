// Time per call of segkit's detection ops on inputs of Mask R-CNN's sizes, read from a file
// that bench/run_ops_bench.py writes and times torchvision on. Prints one JSON line: op ->
// median milliseconds.

#include <ATen/ATen.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>

#include "median_ms.h"
#include "segkit/core/checkpoint.h"
#include "segkit/core/runtime.h"
#include "segkit/ops/box_coder.h"
#include "segkit/ops/nms.h"
#include "segkit/ops/paste_masks.h"
#include "segkit/ops/poolers.h"

using segkit::bench::median_ms;

int main(int argc, char** argv) {
  std::string inputs;
  int runs = 7, threads = 2;
  CLI::App app{"segkit detection-op benchmark"};
  app.add_option("inputs", inputs)->required();
  app.add_option("--runs", runs);
  app.add_option("--threads", threads);
  CLI11_PARSE(app, argc, argv);
  segkit::configure_runtime(threads);

  std::map<std::string, at::Tensor> t;
  for (auto& [name, tensor] : segkit::load_state_dict(inputs)) t[name] = tensor;
  const std::vector<at::Tensor> features = {t["features.0"], t["features.1"], t["features.2"], t["features.3"]};
  const std::vector<std::pair<int64_t, int64_t>> sizes = {
      {t["image_size"][0].item<int64_t>(), t["image_size"][1].item<int64_t>()}};
  const segkit::ops::MultiScaleRoIAlign box_pooler({7, 2}), mask_pooler({14, 2});
  const segkit::ops::BoxCoder coder({1, 1, 1, 1});
  const at::Tensor proposals = t["proposals"], detections = t["detections"];
  std::map<std::string, std::function<void()>> calls = {
      {"roi_align_box_head", [&] { box_pooler.forward(features, {proposals}, sizes); }},
      {"roi_align_mask_head", [&] { mask_pooler.forward(features, {detections}, sizes); }},
      {"batched_nms_rpn", [&] { segkit::ops::batched_nms(t["rpn_boxes"], t["rpn_scores"], t["rpn_levels"], 0.7); }},
      {"decode_anchors", [&] { coder.decode(t["codes"], t["anchors"]); }},
      {"paste_masks", [&] {
         segkit::ops::paste_masks_in_image(t["masks"], t["pasted_boxes"], t["original_size"][0].item<int64_t>(),
                                           t["original_size"][1].item<int64_t>());
       }}};
  std::cout << "{";
  const char* separator = "";
  for (const auto& [name, call] : calls) {
    std::cout << separator << "\"" << name << "\": " << median_ms(runs, call);
    separator = ", ";
  }
  std::cout << "}" << std::endl;
}
