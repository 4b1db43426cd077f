#include "segkit/train/semantic_training.h"

#include <ATen/ATen.h>

#include <atomic>
#include <chrono>
#include <future>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "segkit/eval/evaluate.h"
#include "segkit/train/trainer.h"

namespace segkit {

SemanticTraining::SemanticTraining(const SegmentationDataset& train, const SegmentationDataset* validation,
                                   Preprocess preprocess, SemanticTrainingOptions options)
    : train_(train), validation_(validation), preprocess_(preprocess), options_(std::move(options)) {}

void SemanticTraining::prepare(int64_t workers, TrainHooks& hooks) {
  if (!options_.weight_map || !weight_maps_.empty()) return;
  hooks.on_message("computing U-Net weight maps for " + std::to_string(train_.size()) + " masks");
  weight_maps_.resize(train_.size());
  std::vector<std::future<void>> jobs;
  const size_t threads = static_cast<size_t>(std::max<int64_t>(1, workers));
  std::atomic<size_t> done{0};
  for (size_t w = 0; w < threads; ++w) {
    jobs.push_back(std::async(std::launch::async, [this, w, threads, &done] {
      at::set_num_threads(1);
      for (size_t i = w; i < train_.size(); i += threads) {
        weight_maps_[i] = unet_weight_map(train_[i].mask, train_.options().num_classes, train_.options().ignore_index,
                                          options_.weight_map_options);
        ++done;
      }
    }));
  }
  for (auto& j : jobs) {
    while (j.wait_for(std::chrono::milliseconds(250)) != std::future_status::ready) {
      hooks.on_progress("weight maps", done.load(), train_.size());
    }
    j.get();
  }
  hooks.on_progress("weight maps", train_.size(), train_.size());
}

TrainingBatch SemanticTraining::make_batch(const BatchPlan& plan) const {
  std::vector<TrainingSample> samples;
  for (size_t k = 0; k < plan.samples.size(); ++k) {
    const size_t index = plan.samples[k];
    const auto& item = train_[index];
    std::mt19937_64 rng = make_rng(plan.seed, plan.epoch, plan.positions[k], 1);
    const at::Tensor weight = options_.weight_map ? weight_maps_[index] : at::Tensor();
    samples.push_back(augment(item.image, item.mask, weight, options_.augment, preprocess_, rng));
  }
  std::mt19937_64 rng = make_rng(plan.seed, plan.epoch, plan.step, 2);
  cutmix(samples, options_.augment.cutmix, options_.augment.target_border, rng);
  std::vector<at::Tensor> images, masks, weights;
  for (auto& s : samples) {
    images.push_back(s.image);
    masks.push_back(s.mask);
    if (s.weight.defined()) weights.push_back(s.weight);
  }
  TrainingBatch batch;
  batch.images = at::stack(images);
  batch.targets.masks = at::stack(masks);
  if (!weights.empty()) batch.targets.pixel_weights = at::stack(weights);
  return batch;
}

ValidationReport SemanticTraining::validate(const Model& model, c10::Device device, TrainHooks& hooks) {
  const SegmentationDataset& data = validation_ ? *validation_ : train_;
  auto segmentor = std::dynamic_pointer_cast<SegmentorImpl>(model);
  TORCH_CHECK(segmentor, "semantic training needs a semantic segmentation model");
  InferenceOptions borrowed;
  borrowed.rewrite = false;
  Predictor predictor(segmentor, preprocess_, device, borrowed);
  TiledInference tiler(predictor, TileOptions{});
  const EvalReport r = evaluate_segmentation(tiler, data, train_.options().num_classes,
                                             [&](size_t done) { hooks.on_validation(done, data.size()); });

  ValidationReport report;
  report.metrics = r.metrics();
  report.json = nlohmann::json::parse(r.to_json()).dump();  // the confusion matrix too: the report draws it
  std::ostringstream line;
  line << std::fixed << std::setprecision(4) << "val loss " << r.cross_entropy.value_or(0) << " mIoU " << r.mean_iou
       << " pixel acc " << r.pixel_accuracy;
  if (r.rand_error) line << " pixel error " << *r.pixel_error << " Rand error " << *r.rand_error;
  report.summary = line.str();
  return report;
}

}  // namespace segkit
