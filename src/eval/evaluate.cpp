#include "segkit/eval/evaluate.h"

#include <ATen/ATen.h>

#include "segkit/core/pipeline.h"
#include "segkit/core/runtime.h"
#include "segkit/ops/resized_argmax.h"

namespace segkit {

EvalReport evaluate_segmentation(TiledInference& tiler, const SegmentationDataset& data, int64_t num_classes,
                                 const ProgressCallback& progress) {
  Evaluator evaluator(num_classes, data.options().ignore_index, data.binary());
  double loss_sum = 0;
  int64_t counted = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    const at::Tensor logits = tiler.logits(data[i].image);
    const at::Tensor& mask = data[i].mask;
    evaluator.add(channel_argmax(logits), mask);
    const at::Tensor kept = mask.ne(data.options().ignore_index);
    const at::Tensor target = mask.masked_fill(kept.logical_not(), 0).unsqueeze(0);
    const at::Tensor nll = -logits.log_softmax(0).gather(0, target).squeeze(0);
    loss_sum += nll.masked_select(kept).sum().item<double>();
    counted += kept.sum().item<int64_t>();
    if (progress) progress(i + 1);
  }
  EvalReport report = evaluator.report();
  if (counted > 0) report.cross_entropy = loss_sum / static_cast<double>(counted);
  return report;
}

EvalReport evaluate_segmentation(Predictor& predictor, const SegmentationDataset& data, int64_t num_classes,
                                 int64_t batch, const ProgressCallback& progress, int streams) {
  Evaluator evaluator(num_classes, data.options().ignore_index, data.binary());
  // Preprocessing ahead on a thread of its own, the network on `streams` threads, the resize,
  // argmax and scoring behind it in order.
  struct Batch {
    size_t start = 0;
    std::vector<Image> images;
    PreparedBatch prepared;
    std::vector<NetworkLogits> logits;
  };
  run_batch_pipeline<Batch>(
      data.size(), static_cast<size_t>(std::max<int64_t>(1, batch)),
      [&](size_t begin, size_t end) {
        Batch batch;
        batch.start = begin;
        for (size_t i = begin; i < end; ++i) batch.images.push_back(Image{data[i].image, data[i].paths.image});
        batch.prepared = predictor.prepare(batch.images);
        return batch;
      },
      [&](Batch& batch) {
        batch.logits = predictor.run(batch.prepared);
        batch.prepared = {};
      },
      [&](Batch& batch) {
        for (size_t k = 0; k < batch.images.size(); ++k) {
          evaluator.add(Predictor::finish(batch.logits[k], batch.images[k]).mask, data[batch.start + k].mask);
        }
        if (progress) progress(batch.start + batch.images.size());
      },
      streams);
  return evaluator.report();
}

ClassificationReport evaluate_classification(ClassificationPredictor& predictor, const ClassificationDataset& data,
                                             int64_t batch, const ProgressCallback& progress, int streams) {
  ClassificationEvaluator evaluator(predictor.model().num_classes());
  double loss_sum = 0;
  // Preprocessing ahead on a thread of its own, the network on `streams` threads, the scoring
  // behind it in order.
  struct Batch {
    size_t end = 0;
    at::Tensor inputs, truth, logits;
  };
  run_batch_pipeline<Batch>(
      data.size(), static_cast<size_t>(std::max<int64_t>(1, batch)),
      [&](size_t begin, size_t end) {
        Batch b;
        b.end = end;
        std::vector<at::Tensor> inputs;
        std::vector<int64_t> labels;
        for (size_t i = begin; i < end; ++i) {
          inputs.push_back(predictor.preprocess()(data.image(i)));
          labels.push_back(data.label(i));
        }
        b.inputs = at::stack(inputs);
        b.truth = at::tensor(labels, at::kLong);
        return b;
      },
      [&](Batch& b) {
        b.logits = predictor.forward(b.inputs).to(at::kCPU, at::kFloat);
        b.inputs.reset();
      },
      [&](Batch& b) {
        evaluator.add(b.logits, b.truth);
        loss_sum += -b.logits.log_softmax(1).gather(1, b.truth.unsqueeze(1)).sum().item<double>();
        if (progress) progress(b.end);
      },
      streams);
  ClassificationReport report = evaluator.report();
  if (data.size() > 0) report.cross_entropy = loss_sum / static_cast<double>(data.size());
  return report;
}

}  // namespace segkit
