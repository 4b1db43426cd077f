// segkit: image segmentation from the command line.

#include <c10/util/Exception.h>

#include <iostream>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "segkit/core/errors.h"

int main(int argc, char** argv) {
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
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (const auto& [name, run] : commands) {
      if (app.got_subcommand(name)) run();
    }
  } catch (const segkit::InputError& e) {
    std::cerr << "segkit: error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "segkit: error: " << segkit::first_line(e.what_without_backtrace()) << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "segkit: error: out of memory (try a smaller --resize or --batch)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "segkit: error: " << segkit::first_line(e.what()) << "\n";
    return 2;
  }
  return 0;
}
