#include "segkit/train/trainer.h"

#include <ATen/ATen.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "segkit/core/atomic_file.h"
#include "segkit/core/checkpoint.h"
#include "segkit/core/errors.h"
#include "segkit/core/state_dict.h"
#include "segkit/train/mixed_precision.h"

namespace segkit {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Now as ISO 8601 UTC ("2026-11-26T10:04:05Z").
std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

nlohmann::json report_json(const EpochReport& r) {
  nlohmann::json j;
  j["epoch"] = r.epoch;
  j["time"] = utc_now();
  j["loss"] = r.loss;
  j["losses"] = r.losses;
  j["lr"] = r.lr;
  j["seconds"] = r.seconds;
  j["images_per_second"] = r.images_per_second;
  j["data_wait_seconds"] = r.data_wait_seconds;
  if (r.validation) j["validation"] = nlohmann::json::parse(r.validation->json);
  j["best"] = r.best;
  return j;
}

void to_device(TrainingBatch& batch, c10::Device device) {
  if (device.is_cpu()) return;
  auto move = [&](at::Tensor& t) {
    if (t.defined()) t = t.to(device);
  };
  move(batch.images);
  move(batch.targets.masks);
  move(batch.targets.pixel_weights);
  move(batch.targets.labels);
  move(batch.targets.teacher_logits);
}

/// Gradients released rather than zeroed (PyTorch 2's zero_grad(set_to_none)): backward
/// then hands its results over instead of adding them to zeroed buffers. A parameter that
/// gets no gradient in a step is then left alone by the optimizer (no weight decay either).
void release_gradients(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) p.mutable_grad() = at::Tensor();
  }
}

}  // namespace

struct Trainer::Impl {
  Model model;
  TrainingTask& task;
  TrainOptions o;
  TrainHooks& hooks;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  std::vector<double> lr_scales;
  int64_t start_epoch = 0;  // epochs completed
  double best = std::numeric_limits<double>::quiet_NaN();

  Impl(Model m, TrainingTask& t, TrainOptions options, TrainHooks& h)
      : model(std::move(m)), task(t), o(std::move(options)), hooks(h) {}

  int64_t epoch_size() const { return o.epoch_size > 0 ? o.epoch_size : static_cast<int64_t>(task.size()); }
  int64_t steps_per_epoch() const { return std::max<int64_t>(1, epoch_size() / o.batch_size); }
  std::string best_metric() const { return o.best_metric.empty() ? task.default_metric() : o.best_metric; }

  // Sample order of an epoch: shuffled copies of the dataset, as many as the epoch needs.
  std::vector<size_t> order(int64_t epoch) const {
    std::mt19937_64 rng = make_rng(o.seed, epoch, -1, 0);
    std::vector<size_t> result;
    while (static_cast<int64_t>(result.size()) < epoch_size()) {
      std::vector<size_t> pass(task.size());
      std::iota(pass.begin(), pass.end(), 0);
      std::shuffle(pass.begin(), pass.end(), rng);
      result.insert(result.end(), pass.begin(), pass.end());
    }
    result.resize(static_cast<size_t>(epoch_size()));
    return result;
  }

  BatchPlan plan(int64_t epoch, int64_t step, const std::vector<size_t>& sample_order) const {
    BatchPlan p;
    p.seed = o.seed;
    p.epoch = epoch;
    p.step = step;
    for (int64_t k = 0; k < o.batch_size; ++k) {
      const int64_t position = step * o.batch_size + k;
      p.samples.push_back(sample_order[static_cast<size_t>(position)]);
      p.positions.push_back(position);
    }
    return p;
  }

  // Training mode, except a frozen backbone, which keeps its BatchNorm statistics.
  void set_training_mode() {
    model->train();
    if (!o.freeze_backbone) return;
    const auto heads = model->head_modules();
    for (const auto& child : model->named_children()) {
      if (std::find(heads.begin(), heads.end(), child.key()) == heads.end()) child.value()->eval();
    }
  }

  void make_optimizer_for_run() {
    ParameterGroups groups = parameter_groups(*model);
    if (o.freeze_backbone) {
      for (auto& p : groups.backbone) p.set_requires_grad(false);
      lr_scales = {1.0};
      optimizer = make_optimizer({{groups.head, 1.0}}, o.optimizer);
      return;
    }
    if (!(o.backbone_lr_scale > 0)) fail("--backbone-lr-scale must be positive, got ", o.backbone_lr_scale);
    lr_scales = {};
    std::vector<ParameterGroup> specs;
    for (auto& [params, scale] : {std::pair{&groups.backbone, o.backbone_lr_scale}, std::pair{&groups.head, 1.0}}) {
      if (params->empty()) continue;
      specs.push_back({*params, scale});
      lr_scales.push_back(scale);
    }
    optimizer = make_optimizer(specs, o.optimizer);
  }

  std::string path(const std::string& name) const { return (fs::path(o.output_dir) / name).string(); }

  void save_resume(int64_t epochs_done) {
    torch::serialize::OutputArchive archive, model_archive, optimizer_archive;
    model->save(model_archive);
    optimizer->save(optimizer_archive);
    archive.write("model", model_archive);
    archive.write("optimizer", optimizer_archive);
    archive.write("epoch", at::tensor(epochs_done));
    archive.write("best", at::tensor(best, at::kDouble));
    archive.write("seed", at::tensor(static_cast<int64_t>(o.seed)));
    AtomicFile file(path("resume.pt"));
    archive.save_to([&](const void* data, size_t size) { return file.write_deferring_errors(data, size); });
    file.commit();
  }

  bool load_resume() {
    const std::string file = path("resume.pt");
    if (!fs::exists(file)) return false;
    torch::serialize::InputArchive archive, model_archive, optimizer_archive;
    try {
      const std::string bytes = read_file(file);
      archive.load_from(bytes.data(), bytes.size());
      archive.read("model", model_archive);
      archive.read("optimizer", optimizer_archive);
      model->load(model_archive);
      optimizer->load(optimizer_archive);
      at::Tensor epoch, best_value, seed;
      archive.read("epoch", epoch);
      archive.read("best", best_value);
      archive.read("seed", seed);
      start_epoch = epoch.item<int64_t>();
      best = best_value.item<double>();
      if (static_cast<uint64_t>(seed.item<int64_t>()) != o.seed) {
        fail(file, ": was written with --seed ", seed.item<int64_t>(), ", not ", o.seed);
      }
    } catch (const c10::Error& e) {
      fail(file, ": cannot resume from it (", first_line(e.what_without_backtrace()), ")");
    }
    return true;
  }

  // The metrics log holds exactly the completed epochs: on resume, later lines are dropped.
  void trim_log(int64_t epochs_done) {
    std::ifstream in(path("metrics.jsonl"));
    if (!in) return;
    std::string kept, line;
    while (std::getline(in, line)) {
      try {
        if (nlohmann::json::parse(line).at("epoch").get<int64_t>() <= epochs_done) kept += line + "\n";
      } catch (const std::exception&) {
        // A line cut short by a kill: dropped.
      }
    }
    write_file_atomically(path("metrics.jsonl"), kept);
  }

  void append_log(const EpochReport& report) {
    std::ofstream out(path("metrics.jsonl"), std::ios::app);
    out << report_json(report).dump() << "\n";
    out.flush();
    if (!out) fail(path("metrics.jsonl"), ": cannot write the metrics log");
  }

  double metric_of(const ValidationReport& report) const {
    const std::string name = best_metric();
    auto it = report.metrics.find(name);
    if (it != report.metrics.end()) return it->second;
    std::string known;
    for (const auto& [n, v] : report.metrics) known += (known.empty() ? "" : ", ") + n;
    fail("--best-metric ", name, ": validation reports no such measure here (valid: ", known, ")");
  }

  bool channels_last() const { return o.channels_last && o.device.is_cpu(); }

  bool last_planned(int64_t epoch) const { return epoch + 1 == o.epochs; }
  // Validation after 0-based `epoch`: every val_every epochs, and after the last.
  bool validates_after(int64_t epoch) const {
    return o.val_every > 0 && ((epoch + 1) % o.val_every == 0 || last_planned(epoch));
  }

  static std::string minutes(double seconds) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(1) << seconds / 60 << " min";
    return out.str();
  }

  // Seconds left: the steps still to train at the current rate, and the validations still to
  // come at the last one's duration (before any, estimated at three times the training rate).
  double eta(int64_t epoch, int64_t steps_done, double images_per_second, double validation_seconds) const {
    if (!(images_per_second > 0)) return 0;
    const int64_t steps = steps_per_epoch();
    const double step_seconds = static_cast<double>(o.batch_size) / images_per_second;
    const int64_t steps_left = (o.epochs - epoch) * steps - steps_done;
    int64_t validations_left = 0;
    for (int64_t e = epoch; e < o.epochs; ++e) validations_left += validates_after(e);
    const double one_validation = validation_seconds >= 0
                                      ? validation_seconds
                                      : static_cast<double>(task.validation_size()) / (3 * images_per_second);
    return static_cast<double>(steps_left) * step_seconds + static_cast<double>(validations_left) * one_validation;
  }

  void run() {
    std::error_code ec;
    fs::create_directories(o.output_dir, ec);
    if (ec || !fs::is_directory(o.output_dir)) fail(o.output_dir, ": cannot create output folder");
    if (o.batch_size < 1) fail("--batch must be at least 1, got ", o.batch_size);
    if (task.size() == 0) fail("the training data holds no sample");
    if (epoch_size() < o.batch_size) {
      fail("an epoch of ", epoch_size(), " samples holds no batch of ", o.batch_size, " (lower --batch)");
    }
    model->to(o.device);
    if (channels_last()) {
      at::NoGradGuard no_grad;
      for (auto& p : model->parameters()) {
        if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
      }
    }
    make_optimizer_for_run();
    set_training_mode();
    if (o.resume && load_resume()) {
      hooks.on_message("resuming after epoch " + std::to_string(start_epoch) + " from " + path("resume.pt"));
      trim_log(start_epoch);
    } else {
      write_file_atomically(path("metrics.jsonl"), "");
    }
    task.prepare(o.workers, hooks);

    const int64_t steps = steps_per_epoch();
    const int64_t total_steps = steps * o.epochs;
    const auto started = Clock::now();
    const auto seconds_since = [](Clock::time_point t) {
      return std::chrono::duration<double>(Clock::now() - t).count();
    };
    const auto out_of_time = [&] { return o.time_limit_s > 0 && seconds_since(started) >= o.time_limit_s; };
    double validation_seconds = -1;  // the last validation's duration; -1: none timed yet
    for (int64_t epoch = start_epoch; epoch < o.epochs; ++epoch) {
      EpochReport report;
      report.epoch = epoch + 1;
      const auto epoch_start = Clock::now();
      const std::vector<size_t> sample_order = order(epoch);
      std::deque<std::future<TrainingBatch>> queue;
      int64_t next = 0;
      auto launch = [&] {
        while (next < steps && static_cast<int64_t>(queue.size()) < std::max<int64_t>(1, o.workers)) {
          queue.push_back(std::async(std::launch::async, [this, p = plan(epoch, next, sample_order)] {
            at::set_num_threads(1);  // this thread's own intra-op pool; the training step keeps its threads
            return task.make_batch(p);
          }));
          ++next;
        }
      };
      double loss_sum = 0;
      for (int64_t step = 0; step < steps; ++step) {
        launch();
        const auto wait_start = Clock::now();
        TrainingBatch batch = queue.front().get();
        report.data_wait_seconds += seconds_since(wait_start);
        queue.pop_front();
        launch();
        to_device(batch, o.device);
        if (channels_last()) batch.images = batch.images.contiguous(at::MemoryFormat::ChannelsLast);
        task.complete_targets(batch);
        const double lr = learning_rate(o.schedule, o.optimizer.lr, epoch * steps + step, total_steps, steps);
        set_learning_rate(*optimizer, lr, lr_scales);
        report.lr = lr;
        LossMap losses;
        at::Tensor loss;
        {
          AutocastGuard autocast(o.device, o.dtype);
          losses = model->losses(batch.images, batch.targets, o.loss);
          loss = sum_losses(losses);
        }
        const double value = loss.item<double>();
        if (!std::isfinite(value)) {
          fail("the loss became ", value, " at epoch ", epoch + 1, " step ", step + 1, " (learning rate ", lr,
               "); stopped, ",
               fs::exists(path("last.pth")) ? "the last good checkpoint is " + path("last.pth")
                                            : std::string("no checkpoint was written yet"),
               ". Try a lower --lr");
        }
        release_gradients(*optimizer);
        loss.backward();
        optimizer->step();
        loss_sum += value;
        for (const auto& [name, part] : losses) report.losses[name] += part.item<double>() / steps;
        StepReport progress;
        progress.epoch = epoch + 1;
        progress.epochs = o.epochs;
        progress.step = step + 1;
        progress.steps = steps;
        progress.loss = loss_sum / static_cast<double>(step + 1);
        progress.images_per_second = static_cast<double>((step + 1) * o.batch_size) / seconds_since(epoch_start);
        progress.eta_seconds = eta(epoch, step + 1, progress.images_per_second, validation_seconds);
        hooks.on_step(progress);
        if (out_of_time() && step + 1 < steps) {
          // Mid-epoch: the weights so far are kept, but resume.pt stays at the last whole
          // epoch, so that a resumed run repeats this epoch exactly.
          save_checkpoint(module_state_dict(*model), o.info, path("last.pth"));
          hooks.on_message("stopping: the time limit of " + minutes(o.time_limit_s) + " was reached after " +
                           minutes(seconds_since(started)) + ", at step " + std::to_string(step + 1) + "/" +
                           std::to_string(steps) + " of epoch " + std::to_string(epoch + 1) +
                           "; last.pth holds these weights (not validated); --resume restarts epoch " +
                           std::to_string(epoch + 1));
          return;
        }
      }
      report.loss = loss_sum / steps;
      report.seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
      report.images_per_second = steps * o.batch_size / report.seconds;
      const bool stop = out_of_time();
      if (validates_after(epoch) || (stop && o.val_every > 0)) {
        const auto validation_start = Clock::now();
        report.validation = task.validate(model, o.device, hooks);
        validation_seconds = seconds_since(validation_start);
        set_training_mode();
        const double value = metric_of(*report.validation);
        const bool better = std::isnan(best) || (lower_is_better(best_metric()) ? value < best : value > best);
        if (better) {
          best = value;
          report.best = true;
          save_checkpoint(module_state_dict(*model), o.info, path("best.pth"));
        }
      }
      save_checkpoint(module_state_dict(*model), o.info, path("last.pth"));
      append_log(report);
      save_resume(epoch + 1);  // last: a resume never runs ahead of the files it follows
      hooks.on_epoch(report);
      if (stop && !last_planned(epoch)) {
        hooks.on_message("stopping: the time limit of " + minutes(o.time_limit_s) + " was reached after " +
                         minutes(seconds_since(started)) + ", at the end of epoch " + std::to_string(epoch + 1) +
                         " of " + std::to_string(o.epochs) + "; --resume continues from there");
        break;
      }
    }
  }
};

Trainer::Trainer(Model model, TrainingTask& task, TrainOptions options, TrainHooks& hooks)
    : impl_(new Impl(std::move(model), task, std::move(options), hooks)) {}

Trainer::~Trainer() { delete impl_; }

void Trainer::run() { impl_->run(); }

}  // namespace segkit
