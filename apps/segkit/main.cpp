// segkit: image segmentation from the command line.

#include <c10/util/Exception.h>

#include <iostream>
#include <new>

#include "commands.h"
#include "segkit/core/errors.h"

int main(int argc, char** argv) {
  CLI::App app{"segkit: semantic segmentation with PyTorch checkpoints, natively in C++"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "segkit 0.1.0");
  app.set_config("--config", "",
                 "Options from a TOML/INI file: a [train] section whose keys are the long flag names (flags given "
                 "on the command line win)");
  const auto predict = segkit::cli::add_predict_command(app);
  const auto models = segkit::cli::add_models_command(app);
  const auto train = segkit::cli::add_train_command(app);
  const auto eval = segkit::cli::add_eval_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (app.got_subcommand("predict")) predict();
    if (app.got_subcommand("models")) models();
    if (app.got_subcommand("train")) train();
    if (app.got_subcommand("eval")) eval();
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
