// One training step of segkit's U-Net against PyTorch's on the same weights, odd-sized batch,
// ignored pixels and pixel weight map (tools/make_parity_fixtures.py): the loss, every
// parameter's gradient and the BatchNorm statistics the step updates. In float32 (NCHW, and
// channels-last as the trainer runs it) they must agree to rounding; under bfloat16 autocast
// (train --precision bf16) the gradients must be as close to float32's as PyTorch's own
// autocast gets, and the loss as close as its.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "reference_tensors.h"
#include "segkit/models/load_model.h"
#include "segkit/train/mixed_precision.h"

namespace segkit {
namespace {

using testing::fixture;
using testing::ReferenceTensors;

// ||a - b|| / ||b|| over all parameters' gradients at once.
double relative_l2(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i].to(at::kDouble) - b[i].to(at::kDouble)).pow(2).sum().item<double>();
    norm += b[i].to(at::kDouble).pow(2).sum().item<double>();
  }
  return std::sqrt(diff / norm);
}

struct Step {
  double loss = 0;
  std::vector<std::string> names;
  std::vector<at::Tensor> grads;
  std::map<std::string, at::Tensor> buffers;
};

Step train_step(const ReferenceTensors& ref, at::ScalarType dtype, bool channels_last) {
  Model model = load_model("unet_padded", fixture("unet_train_step/weights.pth"), {}).model;
  model->train();
  at::Tensor input = ref["input"];
  if (channels_last) {
    at::NoGradGuard no_grad;
    for (auto& p : model->parameters()) {
      if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
    }
    input = input.contiguous(at::MemoryFormat::ChannelsLast);
  }
  Targets targets;
  targets.masks = ref["target"];
  targets.pixel_weights = ref["pixel_weight"];
  LossOptions options;
  options.ignore_index = 255;
  at::Tensor loss;
  {
    AutocastGuard autocast(c10::Device("cpu"), dtype);
    loss = sum_losses(model->losses(input, targets, options));
  }
  loss.backward();
  Step step;
  step.loss = loss.item<double>();
  for (const auto& p : model->named_parameters()) {
    step.names.push_back(p.key());
    step.grads.push_back(p.value().grad());
  }
  for (const auto& b : model->named_buffers()) step.buffers[b.key()] = b.value();
  return step;
}

std::vector<at::Tensor> reference_grads(const ReferenceTensors& ref, const std::string& precision,
                                        const std::vector<std::string>& names) {
  std::vector<at::Tensor> grads;
  for (const auto& name : names) grads.push_back(ref[precision + ".grad." + name]);
  return grads;
}

TEST(TrainingStep, Float32MatchesPyTorch) {
  const ReferenceTensors ref("unet_train_step/reference.pth");
  for (const bool channels_last : {false, true}) {
    SCOPED_TRACE(channels_last ? "channels-last" : "NCHW");
    const Step step = train_step(ref, at::kFloat, channels_last);
    EXPECT_NEAR(step.loss, ref["fp32.loss"].item<double>(), 1e-5);
    const auto expected = reference_grads(ref, "fp32", step.names);
    for (size_t i = 0; i < step.names.size(); ++i) {
      const double scale = expected[i].abs().max().item<double>();
      EXPECT_TRUE(testing::near(step.grads[i], expected[i], 1e-4 * scale)) << step.names[i];
    }
    for (const auto& [name, value] : step.buffers) {
      if (name.find("running") == std::string::npos) continue;
      EXPECT_TRUE(testing::near(value, ref["fp32.after." + name], 1e-5)) << name;
    }
  }
}

TEST(TrainingStep, Bfloat16AutocastIsAsCloseToFloat32AsPyTorchs) {
  const ReferenceTensors ref("unet_train_step/reference.pth");
  const Step step = train_step(ref, at::kBFloat16, /*channels_last=*/true);
  const auto fp32 = reference_grads(ref, "fp32", step.names);
  const double ours = relative_l2(step.grads, fp32);
  const double pytorch = relative_l2(reference_grads(ref, "bf16", step.names), fp32);
  std::cout << "gradients' relative L2 error against float32: segkit bf16 " << ours << ", PyTorch autocast " << pytorch
            << "\n";
  EXPECT_GT(ours, 0) << "autocast did compute in bfloat16";
  // The two differ in rounding only (LibTorch's kernels either way, but the up-convolutions as a
  // matrix product, and channels-last): each's error should be within a factor of the other's.
  EXPECT_LE(ours, 1.5 * pytorch);
  const double fp32_loss = ref["fp32.loss"].item<double>();
  EXPECT_LE(std::abs(step.loss - fp32_loss), 2 * std::abs(ref["bf16.loss"].item<double>() - fp32_loss) + 1e-3);
  for (const auto& g : step.grads) EXPECT_EQ(g.scalar_type(), at::kFloat) << "master weights stay float32";
}

}  // namespace
}  // namespace segkit
