#include "segkit/eval/evaluate.h"

#include <ATen/ATen.h>

namespace segkit {

EvalReport evaluate_segmentation(TiledInference& tiler, const SegmentationDataset& data, int64_t num_classes,
                                 const ProgressCallback& progress) {
  Evaluator evaluator(num_classes, data.options().ignore_index, data.binary());
  for (size_t i = 0; i < data.size(); ++i) {
    evaluator.add(tiler.logits(data[i].image).argmax(0), data[i].mask);
    if (progress) progress(i + 1);
  }
  return evaluator.report();
}

ClassificationReport evaluate_classification(ClassificationPredictor& predictor, const ClassificationDataset& data,
                                             int64_t batch, const ProgressCallback& progress) {
  ClassificationEvaluator evaluator(predictor.model().num_classes());
  const size_t step = static_cast<size_t>(std::max<int64_t>(1, batch));
  for (size_t start = 0; start < data.size(); start += step) {
    const size_t end = std::min(data.size(), start + step);
    std::vector<at::Tensor> inputs;
    std::vector<int64_t> labels;
    for (size_t i = start; i < end; ++i) {
      inputs.push_back(predictor.preprocess()(data.image(i)));
      labels.push_back(data.label(i));
    }
    evaluator.add(predictor.forward(at::stack(inputs)), at::tensor(labels, at::kLong));
    if (progress) progress(end);
  }
  return evaluator.report();
}

}  // namespace segkit
