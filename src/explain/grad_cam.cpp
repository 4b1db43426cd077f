#include "segkit/explain/grad_cam.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "segkit/core/errors.h"
#include "segkit/models/classifiers/image_classifier.h"
#include "segkit/models/feature_tap.h"
#include "segkit/models/heads/classifier_head.h"
#include "segkit/models/heads/head.h"
#include "segkit/models/segmentors/segmentor.h"
#include "segkit/ops/resized_argmax.h"

namespace segkit {
namespace {

CamResult finish(at::Tensor map, int64_t target, int64_t height, int64_t width) {
  CamResult result;
  result.map = map.detach();
  at::Tensor heat = resize_bilinear(result.map.unsqueeze(0).unsqueeze(0), height, width)[0][0].clamp_min(0);
  const double peak = heat.max().item<double>();
  result.heat = peak > 0 ? heat / peak : heat;
  result.target_class = target;
  return result;
}

void check_class(int64_t target, int64_t classes) {
  if (target < 0 || target >= classes)
    fail("--class ", target, " is not a class of the model (0 to ", classes - 1, ")");
}

// The score Grad-CAM explains: a classifier's logit, or a semantic model's class logits
// summed over the region's pixels predicted as that class.
at::Tensor target_score(ModelImpl& model, const at::Tensor& input, const CamOptions& o, int64_t& target) {
  if (auto* classifier = dynamic_cast<ClassifierImpl*>(&model)) {
    const at::Tensor logits = classifier->forward(input).logits;
    target = o.target_class.value_or(logits[0].argmax().item<int64_t>());
    check_class(target, logits.size(1));
    return logits[0][target];
  }
  auto* segmentor = dynamic_cast<SegmentorImpl*>(&model);
  if (segmentor == nullptr) fail("Grad-CAM explains classifiers and semantic segmentation models");
  const at::Tensor logits = segmentor->forward(input).logits[0];
  const int64_t h = logits.size(1), w = logits.size(2);
  at::Tensor inside = at::zeros({h, w}, at::kBool);
  if (o.region) {
    // The region in logit pixels (an unpadded U-Net's logits are smaller than its input).
    const int64_t border = (input.size(2) - h) / 2;
    const auto [x0, y0, x1, y1] = *o.region;
    const int64_t r0 = std::clamp<int64_t>(y0 - border, 0, h), r1 = std::clamp<int64_t>(y1 - border, 0, h);
    const int64_t c0 = std::clamp<int64_t>(x0 - border, 0, w), c1 = std::clamp<int64_t>(x1 - border, 0, w);
    if (r0 >= r1 || c0 >= c1) fail("--region ", x0, ",", y0, ",", x1, ",", y1, " holds no pixel of the output");
    inside.slice(0, r0, r1).slice(1, c0, c1).fill_(true);
  } else {
    inside.fill_(true);
  }
  const at::Tensor predicted = channel_argmax(logits.detach());
  if (o.target_class) {
    target = *o.target_class;
    check_class(target, logits.size(0));
  } else {
    target = at::bincount(predicted.masked_select(inside), {}, logits.size(0)).argmax().item<int64_t>();
  }
  const at::Tensor pixels = inside.logical_and(predicted.eq(target));
  if (!pixels.any().item<bool>()) fail("no pixel of the region is predicted as class ", target);
  return logits[target].masked_select(pixels).sum();
}

}  // namespace

CamResult grad_cam(ModelImpl& model, const at::Tensor& input, const CamOptions& o) {
  TORCH_CHECK(input.dim() == 4 && input.size(0) == 1, "explain one image at a time, got ", input.sizes());
  const auto layers = model.layer_names();
  if (std::find(layers.begin(), layers.end(), o.layer) == layers.end()) {
    std::string valid;
    for (const auto& l : layers) valid += (valid.empty() ? "" : ", ") + l;
    fail("no layer \"", o.layer, "\" to explain (valid: ", valid, ")");
  }
  at::AutoGradMode grad(true);
  FeatureTap tap(o.layer);
  int64_t target = 0;
  const at::Tensor score = target_score(model, input, o, target);
  const at::Tensor activations = tap.captured();
  if (!activations.defined() || activations.dim() != 4) fail("layer \"", o.layer, "\" did not run");
  const at::Tensor gradient = torch::autograd::grad({score}, {activations})[0];
  const at::Tensor weights = gradient[0].mean({1, 2}, /*keepdim=*/true);
  const at::Tensor map = (weights * activations[0].detach()).sum(0).clamp_min(0);
  return finish(map, target, input.size(2), input.size(3));
}

CamResult class_activation_map(ModelImpl& model, const at::Tensor& input, std::optional<int64_t> target_class) {
  auto* classifier = dynamic_cast<ImageClassifierImpl*>(&model);
  auto* head = classifier ? dynamic_cast<ClassifierHeadImpl*>(classifier->head().get()) : nullptr;
  const char* kUnfit =
      "CAM needs a classifier that ends in global average pooling and one linear layer (ResNet, DenseNet, GoogLeNet, "
      "MobileNetV2, EfficientNet); use Grad-CAM for this model";
  if (head == nullptr) fail(kUnfit);
  at::NoGradGuard no_grad;
  FeatureTap tap(head->in_features().at(0));
  const at::Tensor logits = classifier->forward(input).logits;
  const int64_t target = target_class.value_or(logits[0].argmax().item<int64_t>());
  check_class(target, logits.size(1));
  const auto map = head->class_activation_map(tap.captured()[0], target);
  if (!map) fail(kUnfit);
  // CAM keeps negative evidence in its map; its heat map, like Grad-CAM's, shows the positive part.
  return finish(*map, target, input.size(2), input.size(3));
}

}  // namespace segkit
