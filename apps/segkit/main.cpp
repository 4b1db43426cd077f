// segkit: image segmentation from the command line.

#include <c10/util/Exception.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"
#include "usage.h"

namespace {

using segkit::cli::ExitCode;

// The value of `flag` ("--config X" or "--config=X") among the arguments; empty if absent.
std::string flag_value(const std::vector<std::string>& args, const std::string& flag,
                       const std::string& fallback = "") {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind(flag + "=", 0) == 0) return args[i].substr(flag.size() + 1);
  }
  return fallback;
}

bool has(const std::vector<std::string>& args, const std::string& word) {
  return std::find(args.begin(), args.end(), word) != args.end();
}

// `train --resume -o DIR` reads DIR/config.toml (the run's own options) unless another
// --config is given; flags on the command line still win.
void add_resumed_run_config(std::vector<std::string>& args) {
  if (!has(args, "train") || !has(args, "--resume") || !flag_value(args, "--config").empty()) return;
  std::string output = flag_value(args, "--output", flag_value(args, "-o", "runs/train"));
  const std::string config = (std::filesystem::path(output) / "config.toml").string();
  if (std::filesystem::exists(config)) args.insert(args.begin(), {"--config", config});
}

}  // namespace

int main(int argc, char** argv) {
  segkit::remove_temporaries_on_signals();
  CLI::App app{"segkit: image segmentation and classification with PyTorch checkpoints, natively in C++"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "segkit 0.1.0");
  app.set_config("--config", "",
                 "Options from a TOML/INI file: a [train] section whose keys are the long flag names (flags given "
                 "on the command line win)");
  const std::vector<std::pair<std::string, segkit::cli::Run>> commands = {
      {"predict", segkit::cli::add_predict_command(app)}, {"classify", segkit::cli::add_classify_command(app)},
      {"train", segkit::cli::add_train_command(app)},     {"eval", segkit::cli::add_eval_command(app)},
      {"explain", segkit::cli::add_explain_command(app)}, {"models", segkit::cli::add_models_command(app)},
      {"plot", segkit::cli::add_plot_command(app)},       {"completion", segkit::cli::add_completion_command(app)},
      {"bench", segkit::cli::add_bench_command(app)},
  };
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    segkit::cli::check_arguments(app, args);
    add_resumed_run_config(args);
    const std::string config = flag_value(args, "--config");
    if (!config.empty()) segkit::cli::check_config_file(app, config);
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::cerr << "segkit: error: " << segkit::error_line(segkit::cli::describe_parse_error(app, e, args)) << "\n";
    return ExitCode::kUsageError;
  } catch (const segkit::cli::UsageError& e) {
    std::cerr << "segkit: error: " << segkit::error_line(e.what()) << "\n";
    return ExitCode::kUsageError;
  }
  try {
    for (const auto& [name, run] : commands) {
      if (app.got_subcommand(name)) run();
    }
  } catch (const segkit::InputError& e) {
    std::cerr << "segkit: error: " << segkit::error_line(e.what()) << "\n";
    return ExitCode::kInputError;
  } catch (const c10::Error& e) {
    std::cerr << "segkit: error: " << segkit::error_line(e.what_without_backtrace()) << "\n";
    return ExitCode::kRuntimeError;
  } catch (const std::bad_alloc&) {
    std::cerr << "segkit: error: out of memory (try a smaller --resize or --batch)\n";
    return ExitCode::kRuntimeError;
  } catch (const std::exception& e) {
    std::cerr << "segkit: error: " << segkit::error_line(e.what()) << "\n";
    return ExitCode::kRuntimeError;
  }
  return ExitCode::kOk;
}
