#include <iomanip>
#include <iostream>

#include "commands.h"
#include "segkit/models/zoo.h"

namespace segkit::cli {
namespace {

std::string describe(const Preprocess& p) {
  std::ostringstream text;
  text << (p.resize > 0 ? "resize short side to " + std::to_string(p.resize) : std::string("no resize"));
  text << (p.channels == 1 ? ", gray, mean 0.5/std 0.5" : ", RGB, ImageNet mean/std");
  return text.str();
}

}  // namespace

Run add_models_command(CLI::App& app) {
  app.add_subcommand("models", "List the models segkit can build");
  return [] {
    std::cout << std::left << std::setw(30) << "model" << std::setw(14) << "parameters" << std::setw(10) << "aux head"
              << "default preprocessing\n";
    for (const auto& entry : model_zoo()) {
      const Segmentor model = entry.build(ModelConfig{});
      int64_t parameters = 0;
      for (const auto& p : model->parameters()) parameters += p.numel();
      std::ostringstream count;
      count << std::fixed << std::setprecision(1) << parameters / 1e6 << "M";
      std::cout << std::setw(30) << entry.name << std::setw(14) << count.str() << std::setw(10)
                << (entry.has_aux_head ? "yes" : "no") << describe(entry.preprocess) << "\n";
      std::cout << std::setw(30) << "" << entry.summary << "\n";
    }
    std::cout << "(parameter counts for 21 classes without the aux head; U-Nets: the paper's 64 channels, depth 5)\n";
  };
}

}  // namespace segkit::cli
