#include "segkit/train/trainer.h"

#include <ATen/ATen.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <chrono>
#include <cmath>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "segkit/core/atomic_file.h"
#include "segkit/core/checkpoint.h"
#include "segkit/core/errors.h"
#include "segkit/core/state_dict.h"
#include "segkit/infer/tiled_inference.h"

namespace segkit {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Batch {
  at::Tensor images, masks, weights;
};

std::mt19937_64 make_rng(uint64_t seed, int64_t a, int64_t b, int64_t c) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(a),
                    static_cast<uint32_t>(b), static_cast<uint32_t>(c)};
  return std::mt19937_64(seq);
}

nlohmann::json report_json(const EpochReport& r) {
  nlohmann::json j;
  j["epoch"] = r.epoch;
  j["loss"] = r.loss;
  j["lr"] = r.lr;
  j["seconds"] = r.seconds;
  j["images_per_second"] = r.images_per_second;
  if (r.validation) {
    nlohmann::json v = nlohmann::json::parse(r.validation->to_json());
    v.erase("confusion_matrix");
    j["validation"] = v;
  }
  j["best"] = r.best;
  return j;
}

}  // namespace

double metric_value(const EvalReport& report, const std::string& metric) {
  if (metric == "miou") return report.mean_iou;
  if (metric == "pixel_error") return report.pixel_error.value_or(1.0 - report.pixel_accuracy);
  if (metric == "rand_error") {
    if (!report.rand_error) fail("--best-metric rand_error needs binary membrane data (2 classes, 0/255 masks)");
    return *report.rand_error;
  }
  fail("unknown metric \"", metric, "\" (known: miou, pixel_error, rand_error)");
}

bool metric_lower_is_better(const std::string& metric) { return metric != "miou"; }

struct Trainer::Impl {
  Segmentor model;
  Preprocess preprocess;
  const SegmentationDataset& train;
  const SegmentationDataset* validation;
  TrainOptions o;
  TrainHooks& hooks;
  std::vector<at::Tensor> weight_maps;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  int64_t start_epoch = 0;  // epochs completed
  double best = std::numeric_limits<double>::quiet_NaN();

  Impl(Segmentor m, Preprocess p, const SegmentationDataset& t, const SegmentationDataset* v, TrainOptions options,
       TrainHooks& h)
      : model(std::move(m)), preprocess(p), train(t), validation(v), o(std::move(options)), hooks(h) {}

  int64_t epoch_size() const { return o.epoch_size > 0 ? o.epoch_size : static_cast<int64_t>(train.size()); }
  int64_t steps_per_epoch() const { return std::max<int64_t>(1, epoch_size() / o.batch_size); }

  // Sample order of an epoch: shuffled copies of the dataset, as many as the epoch needs.
  std::vector<size_t> order(int64_t epoch) const {
    std::mt19937_64 rng = make_rng(o.seed, epoch, -1, 0);
    std::vector<size_t> result;
    while (static_cast<int64_t>(result.size()) < epoch_size()) {
      std::vector<size_t> pass(train.size());
      std::iota(pass.begin(), pass.end(), 0);
      std::shuffle(pass.begin(), pass.end(), rng);
      result.insert(result.end(), pass.begin(), pass.end());
    }
    result.resize(static_cast<size_t>(epoch_size()));
    return result;
  }

  Batch make_batch(int64_t epoch, int64_t step, const std::vector<size_t>& order) const {
    std::vector<TrainingSample> samples;
    for (int64_t k = 0; k < o.batch_size; ++k) {
      const int64_t position = step * o.batch_size + k;
      const auto& item = train[order[static_cast<size_t>(position)]];
      std::mt19937_64 rng = make_rng(o.seed, epoch, position, 1);
      const at::Tensor weight = o.weight_map ? weight_maps[order[static_cast<size_t>(position)]] : at::Tensor();
      samples.push_back(augment(item.image, item.mask, weight, o.augment, preprocess, rng));
    }
    std::mt19937_64 rng = make_rng(o.seed, epoch, step, 2);
    cutmix(samples, o.augment.cutmix, o.augment.target_border, rng);
    Batch batch;
    std::vector<at::Tensor> images, masks, weights;
    for (auto& s : samples) {
      images.push_back(s.image);
      masks.push_back(s.mask);
      if (s.weight.defined()) weights.push_back(s.weight);
    }
    batch.images = at::stack(images);
    batch.masks = at::stack(masks);
    if (!weights.empty()) batch.weights = at::stack(weights);
    return batch;
  }

  void compute_weight_maps() {
    if (!o.weight_map) return;
    hooks.on_message("computing U-Net weight maps for " + std::to_string(train.size()) + " masks");
    weight_maps.resize(train.size());
    std::vector<std::future<void>> jobs;
    const size_t workers = static_cast<size_t>(std::max<int64_t>(1, o.workers));
    for (size_t w = 0; w < workers; ++w) {
      jobs.push_back(std::async(std::launch::async, [this, w, workers] {
        at::set_num_threads(1);
        for (size_t i = w; i < train.size(); i += workers) {
          weight_maps[i] = unet_weight_map(train[i].mask, train.options().num_classes, train.options().ignore_index,
                                           o.weight_map_options);
        }
      }));
    }
    for (auto& j : jobs) j.get();
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

  EvalReport validate() {
    const SegmentationDataset& data = validation ? *validation : train;
    InferenceOptions options;
    options.rewrite = false;
    model->eval();
    Predictor predictor(model, preprocess, o.device, options);
    TiledInference tiler(predictor, TileOptions{});
    Evaluator evaluator(train.options().num_classes, train.options().ignore_index, data.binary());
    for (size_t i = 0; i < data.size(); ++i) {
      evaluator.add(tiler.logits(data[i].image).argmax(0), data[i].mask);
    }
    model->train();
    return evaluator.report();
  }

  at::Tensor loss_of(const SegmentationOutput& out, const Batch& batch) {
    const at::Tensor masks = batch.masks.to(o.device);
    const at::Tensor weights = batch.weights.defined() ? batch.weights.to(o.device) : at::Tensor();
    at::Tensor loss = segmentation_loss(out.out, masks, weights, o.loss);
    if (out.aux.defined() && o.aux_weight > 0)
      loss = loss + o.aux_weight * segmentation_loss(out.aux, masks, weights, o.loss);
    return loss;
  }

  void run() {
    std::error_code ec;
    fs::create_directories(o.output_dir, ec);
    if (ec || !fs::is_directory(o.output_dir)) fail(o.output_dir, ": cannot create output folder");
    if (o.batch_size < 1) fail("--batch must be at least 1, got ", o.batch_size);
    if (epoch_size() < o.batch_size) {
      fail("an epoch of ", epoch_size(), " samples holds no batch of ", o.batch_size, " (lower --batch)");
    }
    model->to(o.device);
    model->train();
    optimizer = make_optimizer(model->parameters(), o.optimizer);
    if (o.resume && load_resume()) {
      hooks.on_message("resuming after epoch " + std::to_string(start_epoch) + " from " + path("resume.pt"));
      trim_log(start_epoch);
    } else {
      write_file_atomically(path("metrics.jsonl"), "");
    }
    compute_weight_maps();

    const int64_t steps = steps_per_epoch();
    const int64_t total_steps = steps * o.epochs;
    const auto started = Clock::now();
    for (int64_t epoch = start_epoch; epoch < o.epochs; ++epoch) {
      EpochReport report;
      report.epoch = epoch + 1;
      const auto epoch_start = Clock::now();
      const std::vector<size_t> sample_order = order(epoch);
      std::deque<std::future<Batch>> queue;
      int64_t next = 0;
      auto launch = [&] {
        while (next < steps && static_cast<int64_t>(queue.size()) < std::max<int64_t>(1, o.workers)) {
          queue.push_back(std::async(std::launch::async, [this, epoch, step = next, &sample_order] {
            at::set_num_threads(1);  // this thread's own intra-op pool; the training step keeps its threads
            return make_batch(epoch, step, sample_order);
          }));
          ++next;
        }
      };
      double loss_sum = 0;
      for (int64_t step = 0; step < steps; ++step) {
        launch();
        Batch batch = queue.front().get();
        queue.pop_front();
        launch();
        const double lr = learning_rate(o.schedule, o.optimizer.lr, epoch * steps + step, total_steps, steps);
        set_learning_rate(*optimizer, lr);
        report.lr = lr;
        const SegmentationOutput out = model->forward(batch.images.to(o.device), /*with_aux=*/model->has_aux());
        const at::Tensor loss = loss_of(out, batch);
        const double value = loss.item<double>();
        if (!std::isfinite(value)) {
          fail("the loss became ", value, " at epoch ", epoch + 1, " step ", step + 1, " (learning rate ", lr,
               "); stopped, ",
               fs::exists(path("last.pth")) ? "the last good checkpoint is " + path("last.pth")
                                            : std::string("no checkpoint was written yet"),
               ". Try a lower --lr");
        }
        optimizer->zero_grad();
        loss.backward();
        optimizer->step();
        loss_sum += value;
        const double elapsed = std::chrono::duration<double>(Clock::now() - epoch_start).count();
        hooks.on_step(epoch + 1, step + 1, steps, loss_sum / (step + 1), (step + 1) * o.batch_size / elapsed);
      }
      report.loss = loss_sum / steps;
      report.seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
      report.images_per_second = steps * o.batch_size / report.seconds;
      const bool out_of_time =
          o.time_limit_s > 0 && std::chrono::duration<double>(Clock::now() - started).count() >= o.time_limit_s;
      const bool last = epoch + 1 == o.epochs || out_of_time;
      if (o.val_every > 0 && ((epoch + 1) % o.val_every == 0 || last)) {
        report.validation = validate();
        const double value = metric_value(*report.validation, o.best_metric);
        const bool better = std::isnan(best) || (metric_lower_is_better(o.best_metric) ? value < best : value > best);
        if (better) {
          best = value;
          report.best = true;
          save_state_dict(module_state_dict(*model), path("best.pth"));
        }
      }
      save_state_dict(module_state_dict(*model), path("last.pth"));
      append_log(report);
      save_resume(epoch + 1);  // last: a resume never runs ahead of the files it follows
      hooks.on_epoch(report);
      if (out_of_time) {
        hooks.on_message("stopping: the time limit was reached");
        break;
      }
    }
  }
};

Trainer::Trainer(Segmentor model, Preprocess preprocess, const SegmentationDataset& train,
                 const SegmentationDataset* validation, TrainOptions options, TrainHooks& hooks)
    : impl_(new Impl(std::move(model), preprocess, train, validation, std::move(options), hooks)) {}

Trainer::~Trainer() { delete impl_; }

void Trainer::run() { impl_->run(); }

EvalReport Trainer::validate() { return impl_->validate(); }

}  // namespace segkit
