#include <torch/cuda.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "commands.h"
#include "options.h"
#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"
#include "segkit/core/runtime.h"
#include "segkit/core/state_dict.h"
#include "segkit/models/zoo.h"
#include "segkit/train/trainer.h"

namespace segkit::cli {
namespace {

namespace fs = std::filesystem;

struct TrainArgs {
  std::string model;
  std::string weights;
  int64_t num_classes = 2;
  int64_t depth = 5, width = 64;
  bool batch_norm = false;
  std::string upsampling = "transposed";
  DataArgs train, val;
  TrainOptions options;
  std::string optimizer = "adam", schedule = "poly", loss = "ce";
  std::string mask_encoding = "auto";
  std::string class_weights;
  bool skip_bad = false;
  double time_limit_min = 0;
  int threads = 0;
  std::string device = "cpu";
};

template <typename Enum>
Enum parse_choice(const std::string& flag, const std::string& value, const std::map<std::string, Enum>& choices) {
  auto it = choices.find(value);
  if (it != choices.end()) return it->second;
  std::string known;
  for (const auto& [name, _] : choices) known += (known.empty() ? "" : ", ") + name;
  fail(flag, " must be one of ", known, "; got \"", value, "\"");
}

// Progress on stderr: one line redrawn in place on a terminal, one line per epoch otherwise.
class ProgressHooks : public TrainHooks {
 public:
  explicit ProgressHooks(int64_t epochs) : epochs_(epochs), tty_(::isatty(STDERR_FILENO)) {}

  void on_step(int64_t epoch, int64_t step, int64_t steps, double loss, double rate) override {
    if (!tty_) return;
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * step / steps);
    const double eta = rate > 0 ? (steps - step) * batch_ / rate + (epochs_ - epoch) * steps * batch_ / rate : 0;
    std::cerr << "\repoch " << epoch << "/" << epochs_ << " [" << std::string(filled, '#')
              << std::string(kWidth - filled, '.') << "] " << step << "/" << steps << " loss " << std::fixed
              << std::setprecision(4) << loss << " " << std::setprecision(1) << rate << " img/s ETA "
              << format_duration(eta) << "\033[K" << std::flush;
  }

  void on_epoch(const EpochReport& r) override {
    std::ostringstream line;
    line << "epoch " << r.epoch << "/" << epochs_ << " loss " << std::fixed << std::setprecision(4) << r.loss << " lr "
         << std::scientific << std::setprecision(2) << r.lr << std::fixed << " " << std::setprecision(1)
         << r.images_per_second << " img/s " << std::setprecision(1) << r.seconds << " s";
    if (r.validation) {
      line << std::setprecision(4) << " | val mIoU " << r.validation->mean_iou << " pixel acc "
           << r.validation->pixel_accuracy;
      if (r.validation->rand_error) {
        line << " pixel error " << *r.validation->pixel_error << " Rand error " << *r.validation->rand_error;
      }
    }
    if (r.best) line << " (best)";
    std::cerr << (tty_ ? "\r\033[K" : "") << line.str() << "\n";
  }

  void on_message(const std::string& text) override {
    std::cerr << (tty_ ? "\r\033[K" : "") << "segkit: " << text << "\n";
  }

  void set_batch(int64_t batch) { batch_ = batch; }

 private:
  static std::string format_duration(double seconds) {
    const auto s = static_cast<int64_t>(seconds);
    std::ostringstream out;
    if (s >= 3600) out << s / 3600 << "h";
    out << (s % 3600) / 60 << "m" << std::setw(2) << std::setfill('0') << s % 60 << "s";
    return out.str();
  }

  int64_t epochs_;
  bool tty_;
  int64_t batch_ = 1;
};

void run_train(TrainArgs& args, CLI::App& cmd) {
  configure_runtime(args.threads);
  TrainOptions& o = args.options;
  o.device = parse_device(args.device);
  o.optimizer.kind = parse_choice<OptimizerKind>(
      "--optimizer", args.optimizer,
      {{"sgd", OptimizerKind::kSGD}, {"adam", OptimizerKind::kAdam}, {"adamw", OptimizerKind::kAdamW}});
  o.schedule.kind = parse_choice<ScheduleKind>("--schedule", args.schedule,
                                               {{"constant", ScheduleKind::kConstant},
                                                {"poly", ScheduleKind::kPoly},
                                                {"cosine", ScheduleKind::kCosine},
                                                {"step", ScheduleKind::kStep}});
  o.loss.kind = parse_choice<LossKind>("--loss", args.loss,
                                       {{"ce", LossKind::kCrossEntropy},
                                        {"dice", LossKind::kDice},
                                        {"focal", LossKind::kFocal},
                                        {"ce+dice", LossKind::kCrossEntropyDice}});
  o.time_limit_s = args.time_limit_min * 60;
  std::stringstream weights(args.class_weights);
  for (std::string item; std::getline(weights, item, ',');) {
    try {
      o.loss.class_weights.push_back(std::stod(item));
    } catch (const std::exception&) {
      fail("--class-weights must be numbers separated by commas, got \"", args.class_weights, "\"");
    }
  }
  if (!o.loss.class_weights.empty() && static_cast<int64_t>(o.loss.class_weights.size()) != args.num_classes) {
    fail("--class-weights has ", o.loss.class_weights.size(), " values for ", args.num_classes, " classes");
  }
  if (args.num_classes < 1) fail("--num-classes must be at least 1, got ", args.num_classes);

  const ZooEntry& entry = find_model(args.model);
  ModelConfig config;
  config.num_classes = args.num_classes;
  config.aux = entry.has_aux_head;
  config.unet.depth(args.depth)
      .base_width(args.width)
      .batch_norm(args.batch_norm)
      .upsampling(parse_upsampling(args.upsampling));
  at::manual_seed(o.seed);  // the initial weights, too, follow --seed
  Segmentor model = entry.build(config);
  if (!args.weights.empty()) {
    const LoadReport report =
        load_state_dict_into(*model, load_state_dict(args.weights), /*strict=*/false, args.weights);
    if (!report.empty()) std::cerr << "segkit: initial weights: skipped " << report.summary() << "\n";
  }
  o.augment.target_border = model->border();
  if (o.augment.crop > 0 && model->valid_input_size(o.augment.crop) != o.augment.crop) {
    fail("--crop ", o.augment.crop, " is not a size ", args.model, " takes; the nearest is ",
         model->valid_input_size(o.augment.crop));
  }

  DatasetOptions data;
  data.num_classes = args.num_classes;
  data.ignore_index = o.loss.ignore_index;
  data.encoding = parse_choice<MaskEncoding>(
      "--mask-encoding", args.mask_encoding,
      {{"auto", MaskEncoding::kAuto}, {"index", MaskEncoding::kIndex}, {"binary", MaskEncoding::kBinary}});
  data.skip_bad = args.skip_bad;
  const SegmentationDataset train(collect_samples(args.train, "--images/--masks or --list"), data);
  std::optional<SegmentationDataset> val;
  if (args.val.given()) val.emplace(collect_samples(args.val, "--val-images/--val-masks or --val-list"), data);

  std::error_code ec;
  fs::create_directories(o.output_dir, ec);
  if (ec || !fs::is_directory(o.output_dir)) fail(o.output_dir, ": cannot create output folder");
  write_file_atomically((fs::path(o.output_dir) / "config.toml").string(),
                        "# segkit train: resolved configuration; repeat the run with\n"
                        "#   segkit --config config.toml [train -o OTHER_DIR ...]\n[train]\n" +
                            cmd.config_to_str(/*default_also=*/true, /*write_description=*/false));

  std::cerr << "segkit: training " << args.model << " on " << train.size() << " images"
            << (val ? " (validation: " + std::to_string(val->size()) + ")" : std::string(" (no validation set)"))
            << (train.binary() ? ", binary 0/255 masks" : ", class-index masks") << ", " << at::get_num_threads()
            << " threads, " << o.workers << " loader threads\n";
  ProgressHooks hooks(o.epochs);
  hooks.set_batch(o.batch_size);
  Trainer trainer(model, entry.preprocess, train, val ? &*val : nullptr, o, hooks);
  trainer.run();
  std::cout << "checkpoints in " << o.output_dir << ": last.pth" << (o.val_every > 0 ? ", best.pth" : "")
            << ", resume.pt; log: metrics.jsonl\n";
}

}  // namespace

Run add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  TrainArgs& a = *args;
  TrainOptions& o = a.options;
  CLI::App* cmd = app.add_subcommand("train", "Train a zoo model on images and masks");
  cmd->add_option("-m,--model", a.model, "Model name (see `segkit models`)")->required();
  cmd->add_option("-w,--weights", a.weights, "Initial weights (loaded non-strictly)");
  cmd->add_option("--num-classes", a.num_classes, "Classes")->capture_default_str();
  add_data_options(*cmd, a.train, "");
  add_data_options(*cmd, a.val, "val-");
  cmd->add_option("--mask-encoding", a.mask_encoding, "auto, index or binary (0/255)")->capture_default_str();
  cmd->add_option("--ignore-index", o.loss.ignore_index, "Mask value that does not count")->capture_default_str();
  cmd->add_flag("--skip-bad", a.skip_bad, "Skip unreadable or inconsistent samples with a warning");
  // U-Net
  cmd->add_option("--depth", a.depth, "U-Net levels (5: the paper's four poolings)")->capture_default_str();
  cmd->add_option("--width", a.width, "U-Net channels at the first level")->capture_default_str();
  cmd->add_option("--batch-norm", a.batch_norm, "U-Net with BatchNorm (true/false)")->capture_default_str();
  cmd->add_option("--upsampling", a.upsampling, "U-Net: transposed, nearest or bilinear")->capture_default_str();
  // Augmentation
  auto& g = o.augment;
  cmd->add_option("--crop", g.crop, "Square crop side fed to the network (0: whole images)")->capture_default_str();
  cmd->add_option("--hflip", g.hflip, "Random horizontal flips")->capture_default_str();
  cmd->add_option("--vflip", g.vflip, "Random vertical flips")->capture_default_str();
  cmd->add_option("--rot90", g.rot90, "Random 90-degree turns")->capture_default_str();
  cmd->add_option("--rotate", g.rotate, "Largest rotation, degrees")->capture_default_str();
  cmd->add_option("--scale-min", g.scale_min, "Smallest zoom")->capture_default_str();
  cmd->add_option("--scale-max", g.scale_max, "Largest zoom")->capture_default_str();
  cmd->add_option("--shear", g.shear, "Largest shear, degrees")->capture_default_str();
  cmd->add_option("--elastic", g.elastic_sigma, "Elastic deformation: displacement std in px (paper: 10)")
      ->capture_default_str();
  cmd->add_option("--elastic-grid", g.elastic_grid, "Elastic deformation: coarse grid side")->capture_default_str();
  cmd->add_option("--brightness", g.brightness, "Largest brightness shift (fraction)")->capture_default_str();
  cmd->add_option("--contrast", g.contrast, "Largest contrast change (fraction)")->capture_default_str();
  cmd->add_option("--cutmix", g.cutmix, "CutMix probability per sample")->capture_default_str();
  // Loss
  cmd->add_option("--loss", a.loss, "ce, dice, focal or ce+dice")->capture_default_str();
  cmd->add_option("--class-weights", a.class_weights, "One weight per class, comma-separated");
  cmd->add_option("--weight-map", o.weight_map, "U-Net weight map as pixel weights (true/false)")
      ->capture_default_str();
  cmd->add_option("--w0", o.weight_map_options.w0, "Weight map: border weight")->capture_default_str();
  cmd->add_option("--sigma", o.weight_map_options.sigma, "Weight map: border width, px")->capture_default_str();
  cmd->add_option("--class-balance", o.weight_map_options.balance, "Weight map: inverse class-frequency term w_c")
      ->capture_default_str();
  cmd->add_option("--focal-gamma", o.loss.focal_gamma, "Focal loss gamma")->capture_default_str();
  cmd->add_option("--aux-weight", o.aux_weight, "Aux-head loss weight")->capture_default_str();
  // Optimization
  cmd->add_option("--optimizer", a.optimizer, "sgd, adam or adamw")->capture_default_str();
  cmd->add_option("--lr", o.optimizer.lr, "Learning rate")->capture_default_str();
  cmd->add_option("--momentum", o.optimizer.momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--nesterov", o.optimizer.nesterov, "SGD Nesterov momentum")->capture_default_str();
  cmd->add_option("--weight-decay", o.optimizer.weight_decay, "Weight decay")->capture_default_str();
  cmd->add_option("--schedule", a.schedule, "constant, poly, cosine or step")->capture_default_str();
  cmd->add_option("--warmup", o.schedule.warmup_iters, "Linear warm-up iterations")->capture_default_str();
  cmd->add_option("--step-epochs", o.schedule.step_epochs, "Step schedule: epochs per step")->capture_default_str();
  cmd->add_option("--gamma", o.schedule.gamma, "Step schedule: factor per step")->capture_default_str();
  // Loop
  cmd->add_option("--epochs", o.epochs, "Epochs")->capture_default_str();
  cmd->add_option("--batch", o.batch_size, "Images per step")->capture_default_str();
  cmd->add_option("--epoch-size", o.epoch_size, "Samples per epoch (0: the dataset's size)")->capture_default_str();
  cmd->add_option("--workers", o.workers, "Batch-making threads")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed of every random choice")->capture_default_str();
  cmd->add_option("--val-every", o.val_every, "Validate every N epochs (0: never)")->capture_default_str();
  cmd->add_option("--best-metric", o.best_metric, "miou, pixel_error or rand_error")->capture_default_str();
  cmd->add_option("--time-limit", a.time_limit_min, "Stop after the epoch that passes this many minutes (0: none)")
      ->capture_default_str();
  cmd->add_option("-o,--output", o.output_dir, "Folder for checkpoints, log and configuration")->capture_default_str();
  cmd->add_flag("--resume", o.resume, "Continue from OUTPUT/resume.pt if it exists");
  cmd->add_option("--threads", a.threads, "Threads (default: all cores)");
  cmd->add_option("--device", a.device, "cpu or cuda")->capture_default_str();
  return [args, cmd] { run_train(*args, *cmd); };
}

}  // namespace segkit::cli
