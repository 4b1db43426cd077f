#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "segkit/io/npy.h"

#include "segkit/core/errors.h"

namespace segkit::testing {

/// Where tools/make_parity_fixtures.py wrote torchvision's reference outputs.
inline std::string fixture(const std::string& relative) {
  const std::string path = std::string(SEGKIT_FIXTURE_DIR) + "/" + relative;
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << "reference output " << path << " is missing: run ctest (its make_reference_outputs test makes it)";
  }
  return path;
}

/// The folders temp_dir made in this process, removed when it exits if no test failed (a failed
/// test's files stay for a look): a full run would otherwise leave gigabytes in /tmp.
inline std::vector<std::filesystem::path>& temp_dirs_made() {
  static std::vector<std::filesystem::path> dirs;
  static const bool cleanup = [] {
    // Registered after `dirs` and gtest's UnitTest were made: runs before either is destroyed.
    return std::atexit([] {
             if (::testing::UnitTest::GetInstance()->Failed()) return;
             std::error_code ignored;
             for (const auto& dir : temp_dirs_made()) std::filesystem::remove_all(dir, ignored);
           }) == 0;
  }();
  (void)cleanup;
  return dirs;
}

/// A fresh, empty temporary folder for one test (of this process: ctest runs tests in
/// parallel processes, each with its own copy of a suite's shared set-up).
inline std::string temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("segkit_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  temp_dirs_made().push_back(dir);
  return dir.string();
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs a shell command and captures its output: stdout and stderr together, or stdout
/// alone (for output a program of the user's would parse).
inline CommandResult run_command(const std::string& command, bool with_stderr = true) {
  CommandResult result;
  std::FILE* pipe = ::popen((command + (with_stderr ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof(buffer), pipe)) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

/// Largest absolute difference relative to the reference's largest magnitude.
inline double relative_max_error(const at::Tensor& actual, const at::Tensor& expected) {
  const double scale = expected.abs().max().item<double>();
  return (actual.to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>() / std::max(scale, 1e-12);
}

/// Fraction of positions where the class argmax (dim 1 of N x C x H x W) agrees.
inline double argmax_agreement(const at::Tensor& actual, const at::Tensor& expected) {
  return actual.argmax(1).eq(expected.argmax(1)).to(at::kDouble).mean().item<double>();
}

/// Non-empty lines of a text file (0 when it does not exist), e.g. epochs in metrics.jsonl.
inline int count_lines(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

/// A page as Debian's headless Chromium renders it: the DOM after its scripts ran (and the
/// load event), and every line its console printed (messages, errors, uncaught exceptions).
struct RenderedPage {
  int exit_code = -1;
  std::string dom;
  std::string console;
};
inline RenderedPage render_in_chromium(const std::string& html_path) {
  const std::string err = html_path + ".chromium.log";
  RenderedPage page;
  const CommandResult result = run_command(
      "timeout 120 chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 "
      "--virtual-time-budget=10000 --dump-dom 'file://" +
          html_path + "' 2>'" + err + "'",
      /*with_stderr=*/false);
  page.exit_code = result.exit_code;
  page.dom = result.output;
  std::ifstream in(err);
  for (std::string line; std::getline(in, line);) {
    if (line.find(":CONSOLE") != std::string::npos) page.console += line + "\n";
  }
  return page;
}

/// Runs `run(k)` for each input k of `inputs` on `threads` threads at once, `rounds` times each,
/// and counts the answers that differ in any bit from `expected[k]` (or threw): for layers and
/// models that several threads share (run_pipeline's runners).
template <typename F>
int concurrent_mismatches(const std::vector<at::Tensor>& expected, F&& run, int threads = 4, int rounds = 8) {
  std::atomic<int> mismatches{0};
  std::vector<std::thread> team;
  for (int t = 0; t < threads; ++t) {
    team.emplace_back([&, t] {
      c10::InferenceMode guard;
      for (int r = 0; r < rounds; ++r) {
        const size_t k = static_cast<size_t>(t + r) % expected.size();
        try {
          if (!at::equal(run(k), expected[k])) ++mismatches;
        } catch (...) {
          ++mismatches;
        }
      }
    });
  }
  for (std::thread& t : team) t.join();
  return mismatches.load();
}

/// The InputError message `statement` throws ("" when it throws none).
template <typename F>
std::string input_error_of(F&& statement) {
  try {
    statement();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace segkit::testing

/// Expects `statement` to throw an InputError whose message holds `fragment`.
#define EXPECT_THROW_MESSAGE(statement, fragment)                                                      \
  do {                                                                                                 \
    const std::string segkit_message_ = ::segkit::testing::input_error_of([&] { (void)(statement); }); \
    EXPECT_NE(segkit_message_.find(fragment), std::string::npos)                                       \
        << #statement << " threw \"" << segkit_message_ << "\"";                                       \
  } while (false)
