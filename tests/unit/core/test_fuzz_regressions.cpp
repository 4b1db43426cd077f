// The inputs with which fuzzing found bugs (fuzz/regressions/HARNESS/), replayed through the
// harness that found each: every one must now end in success or one clean error naming the
// file. (scripts/fuzz.sh replays them too, under the sanitizers that caught them.)

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>

#include "harnesses.h"
#include "segkit/core/atomic_file.h"

namespace segkit {
namespace {

TEST(FuzzRegressions, PastFindingsEndInSuccessOrACleanError) {
  const std::map<std::string, std::function<void(const uint8_t*, size_t)>> harnesses = {
      {"pickle", fuzz::pickle_input},
      {"checkpoint_zip", fuzz::checkpoint_zip_input},
      {"checkpoint_legacy", fuzz::checkpoint_legacy_input},
      {"safetensors", fuzz::safetensors_input},
      {"image", fuzz::image_input},
      {"label", fuzz::label_input},
  };
  const std::filesystem::path root = std::filesystem::path(SEGKIT_SOURCE_DIR) / "fuzz" / "regressions";
  int replayed = 0;
  for (const auto& folder : std::filesystem::directory_iterator(root)) {
    if (!folder.is_directory()) continue;
    const auto harness = harnesses.find(folder.path().filename().string());
    ASSERT_NE(harness, harnesses.end()) << "no harness for " << folder.path();
    for (const auto& input : std::filesystem::directory_iterator(folder.path())) {
      const std::string bytes = read_file(input.path().string());
      EXPECT_NO_THROW(harness->second(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size())) << input.path();
      ++replayed;
    }
  }
  EXPECT_GE(replayed, 5) << "the findings of the first fuzzing runs are all kept";
}

}  // namespace
}  // namespace segkit
