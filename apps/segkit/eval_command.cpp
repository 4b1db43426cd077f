#include <iostream>
#include <optional>

#include "commands.h"
#include "options.h"
#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"
#include "segkit/core/runtime.h"
#include "segkit/eval/metrics.h"
#include "segkit/infer/tiled_inference.h"
#include "segkit/models/load_model.h"

namespace segkit::cli {
namespace {

struct EvalArgs {
  std::string model, weights;
  std::optional<int64_t> num_classes;
  DataArgs data;
  std::string mask_encoding = "auto";
  int64_t ignore_index = 255;
  std::string upsampling = "bilinear";
  TileOptions tiles;
  std::string report;
  int threads = 0;
  std::string device = "cpu";
};

void run_eval(const EvalArgs& args) {
  configure_runtime(args.threads);
  const ZooEntry& entry = find_model(args.model);
  LoadedModel loaded = load_model(args.model, args.weights, args.num_classes, /*strict=*/true,
                                  UNetOptions().upsampling(parse_upsampling(args.upsampling)));
  DatasetOptions data;
  data.num_classes = loaded.num_classes;
  data.ignore_index = args.ignore_index;
  if (args.mask_encoding == "binary")
    data.encoding = MaskEncoding::kBinary;
  else if (args.mask_encoding == "index")
    data.encoding = MaskEncoding::kIndex;
  else if (args.mask_encoding != "auto")
    fail("--mask-encoding must be auto, index or binary");
  const SegmentationDataset dataset(collect_samples(args.data, "--images/--masks or --list"), data);

  Predictor predictor(loaded.model, entry.preprocess, parse_device(args.device));
  TiledInference tiler(predictor, args.tiles);
  Evaluator evaluator(loaded.num_classes, args.ignore_index, dataset.binary());
  for (size_t i = 0; i < dataset.size(); ++i) {
    evaluator.add(tiler.logits(dataset[i].image).argmax(0), dataset[i].mask);
  }
  const EvalReport report = evaluator.report();
  std::cout << report.to_table(dataset.binary() ? std::vector<std::string>{"membrane", "cell interior"}
                                                : std::vector<std::string>{});
  if (!args.report.empty()) {
    write_file_atomically(args.report, report.to_json() + "\n");
    std::cout << "report written to " << args.report << "\n";
  }
}

}  // namespace

Run add_eval_command(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Measure a model on images with masks: IoU, Dice, accuracy, ISBI errors");
  cmd->add_option("-m,--model", args->model, "Model name (see `segkit models`)")->required();
  cmd->add_option("-w,--weights", args->weights, "Checkpoint")->required();
  cmd->add_option("--num-classes", args->num_classes, "Class count (default: read from the checkpoint)");
  add_data_options(*cmd, args->data, "");
  cmd->add_option("--mask-encoding", args->mask_encoding, "auto, index or binary (0/255)")->capture_default_str();
  cmd->add_option("--ignore-index", args->ignore_index, "Mask value that does not count")->capture_default_str();
  cmd->add_option("--upsampling", args->upsampling, "U-Net with resize upsampling: nearest or bilinear")
      ->capture_default_str();
  cmd->add_option("--tile", args->tiles.tile, "Tile side in pixels (0: whole images)")->capture_default_str();
  cmd->add_option("--overlap", args->tiles.overlap, "Overlap of neighbouring tiles, pixels")->capture_default_str();
  cmd->add_option("--report", args->report, "Also write the report as JSON to this file");
  cmd->add_option("--threads", args->threads, "Threads (default: all cores)");
  cmd->add_option("--device", args->device, "cpu or cuda")->capture_default_str();
  return [args] { run_eval(*args); };
}

}  // namespace segkit::cli
