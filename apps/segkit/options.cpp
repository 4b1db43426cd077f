#include "options.h"

#include <torch/cuda.h>

#include "segkit/core/errors.h"

namespace segkit::cli {

void add_data_options(CLI::App& cmd, DataArgs& args, const std::string& prefix) {
  const std::string what = prefix.empty() ? "training" : "validation";
  cmd.add_option("--" + prefix + "images", args.images, "Folder of " + what + " images");
  cmd.add_option("--" + prefix + "masks", args.masks, "Folder of " + what + " masks, named as the images");
  cmd.add_option("--" + prefix + "list", args.list, "List file of \"image mask\" lines (" + what + ")");
}

std::vector<SamplePaths> collect_samples(const DataArgs& args, const std::string& flags) {
  if (!args.list.empty()) {
    if (!args.images.empty() || !args.masks.empty()) fail("give ", flags, ", not both");
    return read_list_file(args.list);
  }
  if (args.images.empty() || args.masks.empty()) fail("give ", flags);
  return pair_folders(args.images, args.masks);
}

c10::Device parse_device(const std::string& text) {
  if (text == "cpu") return c10::Device("cpu");
  if (text == "cuda") {
    if (!torch::cuda::is_available()) fail("--device cuda: no CUDA device is available to this build");
    return c10::Device("cuda");
  }
  fail("--device must be cpu or cuda, got \"", text, "\"");
}

Upsampling parse_upsampling(const std::string& text) {
  if (text == "transposed") return Upsampling::kTransposed;
  if (text == "nearest") return Upsampling::kNearest;
  if (text == "bilinear") return Upsampling::kBilinear;
  fail("--upsampling must be transposed, nearest or bilinear, got \"", text, "\"");
}

}  // namespace segkit::cli
