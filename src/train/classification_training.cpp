#include "segkit/train/classification_training.h"

#include <ATen/ATen.h>

#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "segkit/eval/evaluate.h"
#include "segkit/infer/inference.h"
#include "segkit/train/trainer.h"

namespace segkit {

ClassificationTraining::ClassificationTraining(const ClassificationDataset& train,
                                               const ClassificationDataset* validation, Preprocess preprocess,
                                               ClassificationTrainingOptions options,
                                               std::unique_ptr<ClassificationPredictor> teacher)
    : train_(train),
      validation_(validation),
      preprocess_(preprocess),
      options_(std::move(options)),
      teacher_(std::move(teacher)) {}

TrainingBatch ClassificationTraining::make_batch(const BatchPlan& plan) const {
  std::vector<at::Tensor> images;
  std::vector<int64_t> labels;
  for (size_t k = 0; k < plan.samples.size(); ++k) {
    std::mt19937_64 rng = make_rng(plan.seed, plan.epoch, plan.positions[k], 1);
    images.push_back(augment_for_classification(train_.image(plan.samples[k]), options_.augment, preprocess_, rng));
    labels.push_back(train_.label(plan.samples[k]));
  }
  TrainingBatch batch;
  batch.images = at::stack(images);
  batch.targets.labels = at::tensor(labels, at::kLong);
  const auto& a = options_.augment;
  if (a.mixup_alpha > 0 || a.cutmix_alpha > 0) {
    std::mt19937_64 rng = make_rng(plan.seed, plan.epoch, plan.step, 2);
    batch.targets.labels = mix_batch(batch.images, batch.targets.labels, train_.num_classes(), a, rng);
  }
  return batch;
}

void ClassificationTraining::complete_targets(TrainingBatch& batch) {
  if (teacher_) batch.targets.teacher_logits = teacher_->forward(batch.images).to(batch.images.device());
}

ValidationReport ClassificationTraining::validate(const Model& model, c10::Device device, TrainHooks& hooks) {
  const ClassificationDataset& data = validation_ ? *validation_ : train_;
  auto classifier = std::dynamic_pointer_cast<ClassifierImpl>(model);
  TORCH_CHECK(classifier, "classification training needs a classification model");
  InferenceOptions borrowed = default_inference_options(device);  // channels-last input on CPU, as training
  borrowed.rewrite = false;
  ClassificationPredictor predictor(classifier, options_.eval_preprocess, device, borrowed);
  const ClassificationReport r = evaluate_classification(predictor, data, options_.eval_batch,
                                                         [&](size_t done) { hooks.on_validation(done, data.size()); });
  ValidationReport report;
  report.metrics = r.metrics();
  nlohmann::json json = nlohmann::json::parse(r.to_json(data.classes()));
  constexpr int64_t kMostClassesLogged = 100;  // the report draws the matrix; ImageNet's would bloat the log
  if (r.confusion.size(0) > kMostClassesLogged) json.erase("confusion_matrix");
  json.erase("classes");
  report.json = json.dump();
  std::ostringstream line;
  line << std::fixed << std::setprecision(4) << "val loss " << r.cross_entropy.value_or(0) << " top-1 " << r.top1
       << " top-" << r.top_k << " " << r.top5;
  report.summary = line.str();
  return report;
}

}  // namespace segkit
