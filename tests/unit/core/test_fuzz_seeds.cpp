// The fuzzing harnesses' seed corpus (tools/make_fuzz_seeds.py: files from torch.save and PIL,
// made with the reference outputs): every seed is a valid file that segkit reads without an
// error, so the fuzzers start from the readers' working paths (scripts/fuzz.sh uses them).

#include <gtest/gtest.h>

#include <filesystem>

#include "segkit/core/atomic_file.h"
#include "segkit/core/checkpoint.h"
#include "segkit/core/pickle.h"
#include "segkit/io/image.h"
#include "segkit/io/label_image.h"
#include "test_util.h"

namespace segkit {
namespace {

std::vector<std::string> seeds(const std::string& harness) {
  std::vector<std::string> paths;
  for (const auto& item : std::filesystem::directory_iterator(testing::fixture("fuzz_seeds/" + harness))) {
    paths.push_back(item.path().string());
  }
  EXPECT_GE(paths.size(), 4u) << harness;
  return paths;
}

TEST(FuzzSeeds, EverySeedIsReadWithoutAnError) {
  const at::Tensor storage = at::zeros({1024});  // as the harness gives
  for (const auto& path : seeds("pickle")) {
    const std::string bytes = read_file(path);
    size_t offset = 0;
    EXPECT_NO_THROW(pickle::unpickle(
        bytes.data(), bytes.size(), offset, [&](const pickle::ValuePtr&) { return pickle::Value::of_tensor(storage); },
        path));
  }
  for (const char* format : {"checkpoint_zip", "checkpoint_legacy", "safetensors"}) {
    for (const auto& path : seeds(format)) EXPECT_FALSE(load_state_dict(path).empty()) << path;
  }
  for (const auto& path : seeds("image")) EXPECT_GT(read_image(path).pixels.numel(), 0) << path;
  for (const auto& path : seeds("label")) EXPECT_GT(read_label_image(path).max().item<int64_t>(), 0) << path;
}

}  // namespace
}  // namespace segkit
