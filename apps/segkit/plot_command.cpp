// `segkit plot RUN_DIR`: a training run's curves, confusion matrix and report.

#include <iostream>

#include "commands.h"
#include "run_report.h"
#include "segkit/core/runtime.h"

namespace segkit::cli {

Run add_plot_command(CLI::App& app) {
  struct PlotArgs {
    std::string run;
    int samples = 4;
    int threads = 0;
  };
  auto args = std::make_shared<PlotArgs>();
  CLI::App* cmd = app.add_subcommand(
      "plot", "Draw a training run's curves and confusion matrix (PNG) and its HTML report, into its folder");
  cmd->add_option("run", args->run, "The run's folder (train's -o)")->required();
  cmd->add_option("--samples", args->samples, "Validation images shown in the report, predicted by best.pth")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  return [args] {
    configure_runtime(args->threads);
    const std::string report = report_run(args->run, args->samples);  // nothing printed if it fails
    std::cout << "report: " << report << "\n";
  };
}

}  // namespace segkit::cli
