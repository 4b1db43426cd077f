#pragma once

// Command-line pieces shared by the subcommands.

#include <c10/core/Device.h>
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "segkit/data/dataset.h"
#include "segkit/models/segmentors/unet.h"

namespace segkit::cli {

/// Where labelled images come from: two folders paired by name, or a list file.
struct DataArgs {
  std::string images, masks, list;
  bool given() const { return !images.empty() || !masks.empty() || !list.empty(); }
};

/// Adds --{prefix}images, --{prefix}masks and --{prefix}list.
void add_data_options(CLI::App& cmd, DataArgs& args, const std::string& prefix);
std::vector<SamplePaths> collect_samples(const DataArgs& args, const std::string& flags);

c10::Device parse_device(const std::string& text);
Upsampling parse_upsampling(const std::string& text);

}  // namespace segkit::cli
