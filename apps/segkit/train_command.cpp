#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "commands.h"
#include "options.h"
#include "run_report.h"
#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"
#include "segkit/core/runtime.h"
#include "segkit/core/state_dict.h"
#include "segkit/io/palette.h"
#include "segkit/models/load_model.h"
#include "segkit/train/classification_training.h"
#include "segkit/train/mixed_precision.h"
#include "segkit/train/semantic_training.h"
#include "segkit/train/trainer.h"
#include "usage.h"

namespace segkit::cli {
namespace {

namespace fs = std::filesystem;

struct TrainArgs {
  std::string model, task;
  std::string weights, backbone_weights;
  int64_t num_classes = 0;
  int64_t depth = 5, width = 64;
  bool batch_norm = false;
  std::string upsampling = "transposed";
  DataArgs train, val;
  std::string folder, val_folder;
  TrainOptions options;
  std::string optimizer = "adam", schedule = "poly", loss = "ce";
  std::string mask_encoding = "auto";
  std::string class_weights;
  int64_t crop = 0;
  SemanticTrainingOptions semantic;
  ClassificationTrainingOptions classification;
  double aux_weight = -1;
  std::string teacher, teacher_model;
  bool skip_bad = false;
  double time_limit_min = 0;
  int threads = 0;
  std::string device = "cpu";
  std::string precision = "fp32";
  double min_weight_match = 0.5;
  bool overwrite = false;
  bool no_report = false;
  std::string class_names, palette;
};

// What a run leaves in its output folder.
const std::vector<std::string> kRunFiles = {"last.pth",    "best.pth",    "resume.pt",  "metrics.jsonl",
                                            "config.toml", "report.html", "curves.png", "confusion.png"};

// An output folder holding another run is refused unless --resume or --overwrite says what to do.
void prepare_output_folder(const TrainArgs& args) {
  const fs::path dir(args.options.output_dir);
  std::vector<std::string> found;
  for (const auto& name : kRunFiles) {
    if (fs::exists(dir / name)) found.push_back(name);
  }
  if (found.empty()) return;
  const std::string list = join(found);
  // --resume continues it (whatever --overwrite says); without a resume.pt (stopped within its
  // first epoch) it starts over.
  if (args.options.resume) return;
  if (args.overwrite) {
    for (const auto& name : found) fs::remove(dir / name);
    std::cerr << "segkit: --overwrite: removed the earlier run's " << list << " from " << dir.string() << "\n";
    return;
  }
  fail(dir.string(), ": holds another run (", list,
       "); give --resume to continue it, --overwrite to replace it, or another -o");
}

template <typename Enum>
Enum parse_choice(const std::string& flag, const std::string& value, const std::map<std::string, Enum>& choices) {
  auto it = choices.find(value);
  if (it != choices.end()) return it->second;
  std::string known;
  for (const auto& [name, _] : choices) known += (known.empty() ? "" : ", ") + name;
  fail(flag, " must be one of ", known, "; got \"", value, "\"");
}

// Progress on stderr: one line redrawn in place on a terminal; in a log, one per epoch and,
// within long epochs and validations, one every 30 s.
class ProgressHooks : public TrainHooks {
 public:
  ProgressHooks() : tty_(::isatty(STDERR_FILENO)) {}

  void on_step(const StepReport& r) override {
    if (!tty_ && (r.step == r.steps || !log_due())) return;
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * r.step / r.steps);
    std::ostringstream line;
    line << "epoch " << r.epoch << "/" << r.epochs << " [" << std::string(filled, '#')
         << std::string(kWidth - filled, '.') << "] " << r.step << "/" << r.steps << " loss " << std::fixed
         << std::setprecision(4) << r.loss << " " << std::setprecision(1) << r.images_per_second << " img/s ETA "
         << format_duration(r.eta_seconds);
    draw(line.str());
  }

  void on_validation(size_t done, size_t total) override { draw_count("validating", " img/s", done, total); }
  void on_progress(const std::string& what, size_t done, size_t total) override {
    draw_count(what, "/s", done, total);
    if (tty_ && done == total) std::cerr << "\r\033[K" << std::flush;
  }

  void on_epoch(const EpochReport& r) override {
    std::ostringstream line;
    line << "epoch " << r.epoch << " loss " << std::fixed << std::setprecision(4) << r.loss;
    if (r.losses.size() > 1) {
      line << " (";
      for (auto it = r.losses.begin(); it != r.losses.end(); ++it) {
        line << (it == r.losses.begin() ? "" : ", ") << it->first.substr(it->first.find('_') + 1) << " " << it->second;
      }
      line << ")";
    }
    line << " lr " << std::scientific << std::setprecision(2) << r.lr << std::fixed << " " << std::setprecision(1)
         << r.images_per_second << " img/s " << std::setprecision(1) << r.seconds << " s";
    if (r.validation) line << " | " << r.validation->summary;
    if (r.best) line << " (best)";
    std::cerr << (tty_ ? "\r\033[K" : "") << line.str() << "\n";
    last_line_ = std::chrono::steady_clock::now();
  }

  void on_message(const std::string& text) override {
    std::cerr << (tty_ ? "\r\033[K" : "") << "segkit: " << text << "\n";
  }

 private:
  void draw(const std::string& line) {
    std::cerr << (tty_ ? "\r" : "") << line << (tty_ ? "\033[K" : "\n") << std::flush;
    last_line_ = std::chrono::steady_clock::now();
  }
  // "what [done/total] rate<unit>", the rate since this count (a new label, or a restart) began.
  void draw_count(const std::string& what, const char* unit, size_t done, size_t total) {
    if (what != count_what_ || done < count_done_) {
      count_what_ = what;
      count_start_ = std::chrono::steady_clock::now();
    }
    count_done_ = done;
    if (!tty_ && (done == total || !log_due())) return;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - count_start_).count();
    std::ostringstream line;
    line << what << " [" << done << "/" << total << "] " << std::fixed << std::setprecision(1)
         << (elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0) << unit;
    draw(line.str());
  }
  bool log_due() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - last_line_).count() >= kLogSeconds;
  }

  static constexpr double kLogSeconds = 30;
  bool tty_;
  std::string count_what_;
  size_t count_done_ = 0;
  std::chrono::steady_clock::time_point count_start_;
  std::chrono::steady_clock::time_point last_line_ = std::chrono::steady_clock::now();
};

void parse_common(TrainArgs& args) {
  TrainOptions& o = args.options;
  o.device = parse_device(args.device);
  try {
    o.dtype = training_dtype(args.precision, o.device);
  } catch (const std::invalid_argument& e) {
    fail("--precision: ", e.what());
  }
  o.channels_last = true;  // faster on CPU, for the backward passes too (bench/RESULTS.md)
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
  if (o.batch_size < 1) fail("--batch must be at least 1, got ", o.batch_size);
}

// The zoo entry with the U-Net flags applied.
ZooEntry configured_entry(const TrainArgs& args, const ZooEntry& entry) {
  ZooEntry configured = entry;
  if (auto* unet = std::get_if<UNetOptions>(&configured.architecture)) {
    unet->depth(args.depth)
        .base_width(args.width)
        .batch_norm(args.batch_norm)
        .upsampling(parse_upsampling(args.upsampling));
  }
  return configured;
}

// What the run's checkpoints record about the model.
CheckpointInfo checkpoint_info(const TrainArgs& args, const ZooEntry& entry, int64_t num_classes) {
  CheckpointInfo info;
  info.model = entry.name;
  info.task = task_name(entry.task);
  info.num_classes = num_classes;
  const ZooEntry configured = configured_entry(args, entry);
  if (const auto* unet = std::get_if<UNetOptions>(&configured.architecture)) {
    info.unet = UNetOptions(*unet).num_classes(num_classes);
  }
  info.preprocess = entry.preprocess;
  if (!args.class_names.empty()) {
    info.class_names = dataset_class_names(args.class_names);
    if (info.class_names.empty()) info.class_names = read_class_names(args.class_names);
    if (static_cast<int64_t>(info.class_names.size()) != num_classes) {
      fail(args.class_names, ": names ", info.class_names.size(), " classes for ", num_classes);
    }
  }
  // Colours: --palette, else those of the dataset --class-names names, else distinct ones for every class.
  std::string palette = args.palette;
  if (palette.empty()) palette = dataset_class_names(args.class_names).empty() ? "distinct" : args.class_names;
  info.palette = load_palette(palette, num_classes);
  return info;
}

// The model, fresh from --seed, with the initial weights the flags name.
Model make_model(const TrainArgs& args, const ZooEntry& entry, int64_t num_classes) {
  const ZooEntry configured = configured_entry(args, entry);
  const auto* composed = std::get_if<ComposedArchitecture>(&entry.architecture);
  const bool aux = composed != nullptr && !composed->aux.empty() && args.options.loss.aux_weight > 0;
  at::manual_seed(args.options.seed);  // the initial weights, too, follow --seed
  Model model = build_model(configured, {num_classes, aux});
  if (!args.backbone_weights.empty()) {
    const int64_t loaded = load_backbone_weights(*model, entry, args.backbone_weights);
    std::cerr << "segkit: backbone weights: " << loaded << " tensors from " << args.backbone_weights << "\n";
  }
  if (!args.weights.empty()) {
    const LoadReport report = load_state_dict_into(*model, apply_key_renames(entry, load_state_dict(args.weights)),
                                                   /*strict=*/false, args.weights);
    const size_t total = module_state_dict(*model).size();
    const size_t loaded = total - report.missing.size() - report.mismatched.size();
    const double share = total > 0 ? static_cast<double>(loaded) / static_cast<double>(total) : 0.0;
    if (share < args.min_weight_match) {
      fail(args.weights, ": only ", loaded, " of ", entry.name, "'s ", total, " tensors fit it (", report.summary(),
           "); a checkpoint of another model? (--min-weight-match 0 trains from what fits on purpose)");
    }
    std::cerr << "segkit: initial weights: " << loaded << " of " << total << " tensors from " << args.weights;
    if (!report.empty()) std::cerr << "; skipped " << report.summary();
    std::cerr << "\n";
  }
  return model;
}

void save_config(const TrainArgs& args, CLI::App& cmd) {
  const std::string dir = args.options.output_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) fail(dir, ": cannot create output folder");
  // How this session was started (--resume, --overwrite) is not the run's configuration:
  // a repeat of the run must not overwrite anything, a resume must not start over.
  std::istringstream all(cmd.config_to_str(/*default_also=*/true, /*write_description=*/false));
  std::string kept;
  for (std::string line; std::getline(all, line);) {
    if (line.rfind("resume=", 0) != 0 && line.rfind("overwrite=", 0) != 0) kept += line + "\n";
  }
  write_file_atomically((fs::path(dir) / "config.toml").string(),
                        "# segkit train: resolved configuration; repeat the run with\n"
                        "#   segkit --config config.toml [train -o OTHER_DIR ...]\n[train]\n" +
                            kept);
}

// The run's report (curves, confusion matrix, validation images), then where everything is.
void finish(const TrainArgs& args) {
  const TrainOptions& o = args.options;
  std::string report;
  if (!args.no_report) {
    try {
      report = report_run(o.output_dir, 4);
    } catch (const InputError& e) {
      std::cerr << "segkit: warning: no report: " << e.what() << "\n";
    } catch (const UsageError& e) {  // an edited config.toml
      std::cerr << "segkit: warning: no report: " << e.what() << "\n";
    }
  }
  std::cout << "checkpoints in " << o.output_dir << ": last.pth"
            << (fs::exists(fs::path(o.output_dir) / "best.pth") ? ", best.pth" : "")
            << ", resume.pt; log: metrics.jsonl" << (report.empty() ? "" : "; report: " + report) << "\n";
}

void train_semantic(TrainArgs& args, const ZooEntry& entry, CLI::App& cmd) {
  TrainOptions& o = args.options;
  const int64_t num_classes = args.num_classes > 0 ? args.num_classes : 2;
  if (!o.loss.class_weights.empty() && static_cast<int64_t>(o.loss.class_weights.size()) != num_classes) {
    fail("--class-weights has ", o.loss.class_weights.size(), " values for ", num_classes, " classes");
  }
  Model model = make_model(args, entry, num_classes);
  o.info = checkpoint_info(args, entry, num_classes);
  if (o.loss.ignore_index >= 0) o.info.ignore_index = o.loss.ignore_index;
  // Trained (and validated) at the images' own scale: predict and eval default to it too.
  o.info.preprocess->resize = 0;
  AugmentOptions& augment = args.semantic.augment;
  augment.crop = args.crop > 0 ? args.crop : 256;
  if (const InputConstraints* c = input_constraints(*model)) {
    augment.target_border = c->border();
    if (c->valid_input_size(augment.crop) != augment.crop) {
      fail("--crop ", augment.crop, " is not a size ", args.model, " takes; the nearest is ",
           c->valid_input_size(augment.crop));
    }
  }
  DatasetOptions data;
  data.num_classes = num_classes;
  data.ignore_index = o.loss.ignore_index;
  data.encoding = parse_mask_encoding(args.mask_encoding);
  data.skip_bad = args.skip_bad;
  prepare_output_folder(args);
  const auto train_samples = collect_samples(args.train, "--images/--masks or --list");
  Progress reading(train_samples.size(), "reading");
  const SegmentationDataset train(train_samples, data,
                                  [&](size_t done, size_t) { reading.update(done, train_samples[done - 1].image); });
  reading.finish();
  std::optional<SegmentationDataset> val;
  if (args.val.given()) val.emplace(collect_samples(args.val, "--val-images/--val-masks or --val-list"), data);
  save_config(args, cmd);
  std::cerr << "segkit: training " << args.model << " on " << train.size() << " images"
            << (val ? " (validation: " + std::to_string(val->size()) + ")" : std::string(" (no validation set)"))
            << (train.binary() ? ", binary 0/255 masks" : ", class-index masks") << ", " << at::get_num_threads()
            << " threads, " << o.workers << " loader threads, " << precision_name(o.dtype) << "\n";
  SemanticTraining task(train, val ? &*val : nullptr, entry.preprocess, args.semantic);
  ProgressHooks hooks;
  Trainer(std::move(model), task, o, hooks).run();
  finish(args);
}

ClassSamples class_samples(const std::string& folder, const std::string& list, const std::string& flags) {
  if (!folder.empty() && !list.empty()) fail("give ", flags, ", not both");
  if (!folder.empty()) return scan_image_folder(folder);
  if (!list.empty()) return read_class_list(list);
  fail("give ", flags);
}

void train_classification(TrainArgs& args, const ZooEntry& entry, CLI::App& cmd) {
  TrainOptions& o = args.options;
  ClassAugmentOptions& augment = args.classification.augment;
  augment.size = args.crop > 0 ? args.crop : 224;
  const AugmentOptions& shared = args.semantic.augment;  // the flags both tasks read
  augment.hflip = shared.hflip;
  augment.vflip = shared.vflip;
  augment.brightness = shared.brightness;
  augment.contrast = shared.contrast;
  // Validation as torchvision's presets: short side at 256/224 of the crop, center crop.
  Preprocess& eval = args.classification.eval_preprocess;
  eval = entry.preprocess;
  eval.crop = augment.size;
  eval.resize = static_cast<int64_t>(std::lround(augment.size * 256.0 / 224.0));

  if (!args.teacher.empty() && o.loss.distill_alpha <= 0) fail("--teacher needs a --distill-alpha above 0");
  if (args.teacher.empty() && o.loss.distill_alpha > 0) fail("--distill-alpha needs a --teacher");
  if (!args.class_names.empty()) fail("--class-names is for semantic models: a classifier's are its class folders");
  prepare_output_folder(args);

  ClassificationDatasetOptions data;
  data.skip_bad = args.skip_bad;
  data.threads = std::max(1, at::get_num_threads());
  data.max_short_side = 2 * eval.resize;
  ClassSamples train_samples = class_samples(args.folder, args.train.list, "--folder or --list");
  Progress reading(train_samples.samples.size(), "decoding");
  const ClassificationDataset train(std::move(train_samples), data,
                                    [&](size_t done, size_t) { reading.update(done, "images"); });
  reading.finish();
  for (const auto& message : train.skipped()) std::cerr << "segkit: warning: skipped " << message << "\n";
  std::optional<ClassificationDataset> val;
  if (!args.val_folder.empty() || !args.val.list.empty()) {
    val.emplace(class_samples(args.val_folder, args.val.list, "--val-folder or --val-list"), data);
    for (const auto& message : val->skipped()) std::cerr << "segkit: warning: skipped " << message << "\n";
    if (val->classes() != train.classes()) fail("the validation data's classes differ from the training data's");
  }
  const int64_t num_classes = args.num_classes > 0 ? args.num_classes : train.num_classes();
  if (num_classes != train.num_classes()) {
    fail("--num-classes ", num_classes, " but the training data has ", train.num_classes(), " classes");
  }
  Model model = make_model(args, entry, num_classes);
  o.info = checkpoint_info(args, entry, num_classes);
  o.info.class_names = train.classes();
  o.info.preprocess = eval;

  std::unique_ptr<ClassificationPredictor> teacher;
  if (!args.teacher.empty()) {
    // The teacher's model: --teacher-model, else the one its checkpoint records, else the student's.
    std::string teacher_model = args.teacher_model;
    if (teacher_model.empty() && !read_checkpoint_info(args.teacher)) teacher_model = args.model;
    teacher_model = find_model_for(resolve_model_name(teacher_model, args.teacher), Task::kClassification).name;
    LoadedModel loaded = load_model(teacher_model, args.teacher, {});
    if (loaded.num_classes != num_classes) {
      fail(args.teacher, ": the teacher has ", loaded.num_classes, " classes, the student ", num_classes);
    }
    teacher =
        std::make_unique<ClassificationPredictor>(take_as<ClassifierImpl>(loaded.model), entry.preprocess, o.device);
  }
  save_config(args, cmd);
  std::cerr << "segkit: training " << args.model << " on " << train.size() << " images of " << num_classes << " classes"
            << (val ? " (validation: " + std::to_string(val->size()) + ")" : " (no validation set)")
            << (teacher ? ", distilling " + args.teacher : std::string()) << ", " << at::get_num_threads()
            << " threads, " << o.workers << " loader threads, " << precision_name(o.dtype) << "\n";
  ClassificationTraining task(train, val ? &*val : nullptr, entry.preprocess, args.classification, std::move(teacher));
  ProgressHooks hooks;
  Trainer(std::move(model), task, o, hooks).run();
  finish(args);
}

void run_train(TrainArgs& args, CLI::App& cmd) {
  configure_runtime(args.threads);
  parse_common(args);
  const ZooEntry& entry = find_model(args.model);
  if (!args.task.empty() && args.task != task_name(entry.task)) {
    fail("--task ", args.task, " does not fit ", args.model, ", a ", task_name(entry.task), " model");
  }
  if (args.num_classes < 0) fail("--num-classes must be at least 1, got ", args.num_classes);
  if (args.options.resume) {
    const std::string last = (fs::path(args.options.output_dir) / "last.pth").string();
    if (fs::exists(last)) resolve_model_name(args.model, last);  // a --model that contradicts the run is an error
  }
  args.options.loss.aux_weight = args.aux_weight >= 0 ? args.aux_weight : entry.aux_weight;
  if (entry.task == Task::kClassification) {
    train_classification(args, entry, cmd);
  } else if (entry.task == Task::kSemantic) {
    train_semantic(args, entry, cmd);
  } else {
    fail(args.model, ": training ", task_name(entry.task), " models is not supported yet");
  }
}

}  // namespace

Run add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  TrainArgs& a = *args;
  TrainOptions& o = a.options;
  CLI::App* cmd = app.add_subcommand("train", "Train a zoo model: semantic segmentation or classification");
  cmd->add_option("-m,--model", a.model, "Model name (see `segkit models`)")->required();
  cmd->add_option("--task", a.task, "semantic or classification (default: the model's)");
  cmd->add_option("-w,--weights", a.weights, "Initial weights (loaded non-strictly: another head is left out)");
  cmd->add_option("--min-weight-match", a.min_weight_match,
                  "Least share of the model's tensors -w must fill, or the run stops (0: train from what fits)")
      ->capture_default_str();
  cmd->add_option("--backbone-weights", a.backbone_weights,
                  "Initial backbone weights from a classifier's or a segmentation model's checkpoint");
  cmd->add_option("--num-classes", a.num_classes,
                  "Classes (default: semantic 2; classification: the data's class folders)");
  cmd->add_flag("--skip-bad", a.skip_bad, "Skip unreadable or inconsistent samples with a warning");
  // Data
  add_data_options(*cmd, a.train, "");
  add_data_options(*cmd, a.val, "val-");
  cmd->add_option("--folder", a.folder, "Classification: training images, one folder per class");
  cmd->add_option("--val-folder", a.val_folder, "Classification: validation images, one folder per class");
  cmd->add_option("--mask-encoding", a.mask_encoding, "Semantic: auto, index or binary (0/255)")->capture_default_str();
  cmd->add_option("--ignore-index", o.loss.ignore_index, "Semantic: mask value that does not count")
      ->capture_default_str();
  // U-Net
  cmd->add_option("--depth", a.depth, "U-Net levels (5: the paper's four poolings)")->capture_default_str();
  cmd->add_option("--width", a.width, "U-Net channels at the first level")->capture_default_str();
  cmd->add_option("--batch-norm", a.batch_norm, "U-Net with BatchNorm (true/false)")->capture_default_str();
  cmd->add_option("--upsampling", a.upsampling, "U-Net: transposed, nearest or bilinear")->capture_default_str();
  // Augmentation
  auto& g = a.semantic.augment;
  auto& c = a.classification.augment;
  cmd->add_option("--crop", a.crop,
                  "Side of the square crops fed to the network (default: semantic 256, "
                  "classification 224, a random resized crop)")
      ->capture_default_str();
  cmd->add_option("--hflip", g.hflip, "Random horizontal flips")->capture_default_str();
  cmd->add_option("--vflip", g.vflip, "Random vertical flips")->capture_default_str();
  cmd->add_option("--rot90", g.rot90, "Semantic: random 90-degree turns")->capture_default_str();
  cmd->add_option("--rotate", g.rotate, "Semantic: largest rotation, degrees")->capture_default_str();
  cmd->add_option("--scale-min", g.scale_min, "Semantic: smallest zoom")->capture_default_str();
  cmd->add_option("--scale-max", g.scale_max, "Semantic: largest zoom")->capture_default_str();
  cmd->add_option("--shear", g.shear, "Semantic: largest shear, degrees")->capture_default_str();
  cmd->add_option("--elastic", g.elastic_sigma, "Semantic: elastic deformation, displacement std in px (paper: 10)")
      ->capture_default_str();
  cmd->add_option("--elastic-grid", g.elastic_grid, "Semantic: elastic deformation's coarse grid side")
      ->capture_default_str();
  cmd->add_option("--brightness", g.brightness, "Largest brightness change (fraction)")->capture_default_str();
  cmd->add_option("--contrast", g.contrast, "Largest contrast change (fraction)")->capture_default_str();
  cmd->add_option("--saturation", c.saturation, "Classification: largest saturation change (fraction)")
      ->capture_default_str();
  cmd->add_option("--hue", c.hue, "Classification: largest hue shift (at most 0.5)")->capture_default_str();
  cmd->add_option("--area-min", c.scale_min, "Classification: smallest crop area (fraction of the image)")
      ->capture_default_str();
  cmd->add_option("--area-max", c.scale_max, "Classification: largest crop area (fraction of the image)")
      ->capture_default_str();
  cmd->add_option("--cutmix", g.cutmix, "Semantic: CutMix probability per sample")->capture_default_str();
  cmd->add_option("--mixup-alpha", c.mixup_alpha, "Classification: mixup's Beta(alpha, alpha) (0: off)")
      ->capture_default_str();
  cmd->add_option("--cutmix-alpha", c.cutmix_alpha, "Classification: CutMix's Beta(alpha, alpha) (0: off)")
      ->capture_default_str();
  // Loss
  cmd->add_option("--loss", a.loss, "Semantic: ce, dice, focal or ce+dice")->capture_default_str();
  cmd->add_option("--class-weights", a.class_weights, "Semantic: one weight per class, comma-separated");
  cmd->add_option("--weight-map", a.semantic.weight_map, "Semantic: U-Net weight map as pixel weights (true/false)")
      ->capture_default_str();
  cmd->add_option("--w0", a.semantic.weight_map_options.w0, "Weight map: border weight")->capture_default_str();
  cmd->add_option("--sigma", a.semantic.weight_map_options.sigma, "Weight map: border width, px")
      ->capture_default_str();
  cmd->add_option("--class-balance", a.semantic.weight_map_options.balance,
                  "Weight map: inverse class-frequency term w_c")
      ->capture_default_str();
  cmd->add_option("--focal-gamma", o.loss.focal_gamma, "Focal loss gamma")->capture_default_str();
  cmd->add_option("--aux-weight", a.aux_weight, "Aux heads' loss weight (default: the model's, 0.4 or 0.3)");
  cmd->add_option("--label-smoothing", o.loss.label_smoothing, "Classification: label smoothing epsilon")
      ->capture_default_str();
  // Transfer learning and distillation
  cmd->add_flag("--freeze-backbone", o.freeze_backbone, "Train the head only (the backbone's BatchNorm kept)");
  cmd->add_option("--backbone-lr-scale", o.backbone_lr_scale,
                  "The backbone's learning rate as a fraction of the head's")
      ->capture_default_str();
  cmd->add_option("--teacher", a.teacher, "Classification: distil from this checkpoint (run in inference mode)");
  cmd->add_option("--teacher-model", a.teacher_model,
                  "The teacher's zoo model (default: its checkpoint's, else the student's)");
  cmd->add_option("--distill-alpha", o.loss.distill_alpha, "Weight of the distillation term (cross-entropy: 1 - it)")
      ->capture_default_str();
  cmd->add_option("--distill-temperature", o.loss.distill_temperature, "Distillation temperature")
      ->capture_default_str();
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
  cmd->add_option("--best-metric", o.best_metric,
                  "Validation measure best.pth is chosen by: semantic miou (default), pixel_error, rand_error, "
                  "rand_error_skimage, mean_dice; classification top1 (default), top5, mean_class_accuracy");
  cmd->add_option("--time-limit", a.time_limit_min,
                  "Stop after the training step that passes this many minutes (0: none)")
      ->capture_default_str();
  cmd->add_option("-o,--output", o.output_dir, "Folder for checkpoints, log and configuration")->capture_default_str();
  cmd->add_flag("--resume", o.resume,
                "Continue the run in OUTPUT from its resume.pt, with its config.toml's options (flags given win)");
  cmd->add_flag("--overwrite", a.overwrite, "Replace the run OUTPUT holds (its checkpoints, log and report)");
  cmd->add_flag("--no-report", a.no_report,
                "Skip the report at the end (curves.png, confusion.png, report.html; `segkit plot` makes it later)");
  cmd->add_option(
      "--class-names", a.class_names,
      "Semantic: class names recorded in the checkpoints, a file (one per line) or voc, camvid, cityscapes");
  cmd->add_option("--palette", a.palette,
                  "Semantic: class colours recorded in the checkpoints: voc, camvid, cityscapes, distinct or a file "
                  "(default: --class-names' dataset's, else distinct)");
  cmd->add_option("--threads", a.threads, "Threads (default: all cores)");
  cmd->add_option("--device", a.device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--precision", a.precision,
                  "fp32, or bf16 mixed precision (float32 weights and losses; about 1.7x faster on CPUs with "
                  "AVX512-BF16), or auto (bf16 where the CPU has it natively, and on CUDA)")
      ->capture_default_str();
  return [args, cmd] { run_train(*args, *cmd); };
}

}  // namespace segkit::cli
