#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace segkit::cli {

/// Each subcommand adds itself to the app and returns what to run once parsed.
using Run = std::function<void()>;

Run add_predict_command(CLI::App& app);
Run add_classify_command(CLI::App& app);
Run add_models_command(CLI::App& app);
Run add_train_command(CLI::App& app);
Run add_eval_command(CLI::App& app);
Run add_explain_command(CLI::App& app);
Run add_completion_command(CLI::App& app);
Run add_plot_command(CLI::App& app);
Run add_bench_command(CLI::App& app);

}  // namespace segkit::cli
