#include "segkit/models/checkpoint_info.h"

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include "segkit/core/errors.h"

namespace segkit {
namespace {

using nlohmann::json;

constexpr const char* kFormat = "segkit.checkpoint";
constexpr int kVersion = 1;

}  // namespace

std::string CheckpointInfo::to_json() const {
  json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["model"] = model;
  j["task"] = task;
  j["num_classes"] = num_classes;
  if (unet) {
    j["unet"] = {{"in_channels", unet->in_channels()}, {"depth", unet->depth()},
                 {"base_width", unet->base_width()},   {"padding", unet->padding()},
                 {"batch_norm", unet->batch_norm()},   {"upsampling", upsampling_name(unet->upsampling())}};
  }
  if (!class_names.empty()) j["class_names"] = class_names;
  if (palette.defined()) {
    json colours = json::array();
    const at::Tensor p = palette.to(at::kLong).contiguous();
    for (int64_t k = 0; k < p.size(0); ++k) {
      json c = json::array();
      for (int64_t i = 0; i < p.size(1); ++i) c.push_back(p[k][i].item<int64_t>());
      colours.push_back(c);
    }
    j["palette"] = colours;
  }
  if (ignore_index) j["ignore_index"] = *ignore_index;
  if (preprocess) j["preprocess"] = json::parse(preprocess->to_json());
  return j.dump();
}

CheckpointInfo CheckpointInfo::from_json(const std::string& text, const std::string& path) {
  CheckpointInfo info;
  try {
    const json j = json::parse(text);
    if (j.value("format", "") != kFormat) fail(path, ": its segkit record is not a checkpoint description");
    if (j.at("version").get<int>() > kVersion) {
      fail(path, ": written by a newer segkit (checkpoint record version ", j.at("version").get<int>(), ")");
    }
    info.model = j.at("model").get<std::string>();
    info.task = j.value("task", "");
    info.num_classes = j.at("num_classes").get<int64_t>();
    if (j.contains("unet")) {
      const json& u = j["unet"];
      info.unet =
          UNetOptions()
              .in_channels(u.at("in_channels").get<int64_t>())
              .num_classes(info.num_classes)
              .depth(u.at("depth").get<int64_t>())
              .base_width(u.at("base_width").get<int64_t>())
              .padding(u.at("padding").get<bool>())
              .batch_norm(u.at("batch_norm").get<bool>())
              .upsampling(upsampling_from_name(u.at("upsampling").get<std::string>(), path + ": its U-Net upsampling"));
    }
    if (j.contains("class_names")) info.class_names = j["class_names"].get<std::vector<std::string>>();
    if (j.contains("palette")) {
      const auto colours = j["palette"].get<std::vector<std::vector<int64_t>>>();
      if (colours.empty() || colours[0].size() != 4) fail(path, ": records a malformed palette");
      std::vector<int64_t> flat;
      for (const auto& c : colours) {
        if (c.size() != 4) fail(path, ": records a malformed palette");
        flat.insert(flat.end(), c.begin(), c.end());
      }
      info.palette = at::tensor(flat, at::kLong).clamp(0, 255).to(at::kByte).view({-1, 4});
    }
    if (j.contains("ignore_index")) info.ignore_index = j["ignore_index"].get<int64_t>();
    if (j.contains("preprocess")) info.preprocess = Preprocess::from_json(j["preprocess"].dump(), path);
  } catch (const json::exception& e) {
    fail(path, ": malformed segkit record (", e.what(), ")");
  }
  if (!info.class_names.empty() && static_cast<int64_t>(info.class_names.size()) != info.num_classes) {
    fail(path, ": records ", info.class_names.size(), " class names for ", info.num_classes, " classes");
  }
  return info;
}

std::optional<CheckpointInfo> read_checkpoint_info(const std::string& path) {
  const std::string text = load_checkpoint_metadata(path);
  if (text.empty()) return std::nullopt;
  return CheckpointInfo::from_json(text, path);
}

void save_checkpoint(const StateDict& state, const CheckpointInfo& info, const std::string& path) {
  const bool safetensors = path.size() >= 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0;
  save_state_dict(state, path, safetensors ? CheckpointFormat::kSafetensors : CheckpointFormat::kTorchZip,
                  info.to_json());
}

}  // namespace segkit
