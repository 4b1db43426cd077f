#pragma once

// A model measured over a labelled dataset: what `segkit eval` and validation during
// training both do.

#include <functional>

#include "segkit/data/classification_dataset.h"
#include "segkit/data/dataset.h"
#include "segkit/eval/classification_metrics.h"
#include "segkit/eval/metrics.h"
#include "segkit/infer/classification_predictor.h"
#include "segkit/infer/tiled_inference.h"

namespace segkit {

/// Told how many items are done after each one (or each batch).
using ProgressCallback = std::function<void(size_t done)>;

/// Every image through `tiler` (whole or tiled, at its own resolution), its argmax scored
/// against the mask; membrane measures for binary data; the mean pixel cross-entropy of
/// the logits (the validation loss).
EvalReport evaluate_segmentation(TiledInference& tiler, const SegmentationDataset& data, int64_t num_classes,
                                 const ProgressCallback& progress = nullptr);

/// Every image through the predictor's preprocessing (resized as it says), `batch` images per
/// pass on `streams` threads at once (run_batch_pipeline), the logits resized back to the
/// image; its argmax scored against the mask.
EvalReport evaluate_segmentation(Predictor& predictor, const SegmentationDataset& data, int64_t num_classes,
                                 int64_t batch, const ProgressCallback& progress = nullptr, int streams = 1);

/// Every image through the predictor's preprocessing, `batch` at a time (the preprocessing
/// must give images one size: a center crop) on `streams` threads at once, scored against its
/// label.
ClassificationReport evaluate_classification(ClassificationPredictor& predictor, const ClassificationDataset& data,
                                             int64_t batch, const ProgressCallback& progress = nullptr,
                                             int streams = 1);

}  // namespace segkit
