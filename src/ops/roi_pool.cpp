#include "segkit/ops/roi_pool.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "checks.h"
#include "cpu/kernels.h"

namespace segkit::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class RoIPoolFunction : public torch::autograd::Function<RoIPoolFunction> {
 public:
  static at::Tensor forward(AutogradContext* context, const at::Tensor& features, const at::Tensor& rois,
                            double spatial_scale, int64_t pooled_height, int64_t pooled_width) {
    auto [pooled, argmax] = cpu::roi_pool_forward_kernel(features, rois, spatial_scale, pooled_height, pooled_width);
    context->saved_data["input_sizes"] = features.sizes().vec();
    context->save_for_backward({rois, argmax});
    context->mark_non_differentiable({argmax});
    return pooled;
  }

  static variable_list backward(AutogradContext* context, variable_list grad_outputs) {
    const auto saved = context->get_saved_variables();
    const at::Tensor grad = cpu::roi_pool_backward_kernel(grad_outputs[0], saved[0], saved[1],
                                                          context->saved_data["input_sizes"].toIntVector());
    return {grad, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor roi_pool(const at::Tensor& features, const at::Tensor& rois, int64_t pooled_height, int64_t pooled_width,
                    double spatial_scale) {
  check_roi_inputs(features, rois, pooled_height, pooled_width, "roi_pool");
  TORCH_CHECK(features.scalar_type() == at::kFloat || features.scalar_type() == at::kDouble,
              "roi_pool: features should be float or double, got ", features.scalar_type());
  const at::Tensor boxes = rois.to(features.scalar_type());
  if (features.is_cpu() && features.requires_grad() && at::GradMode::is_enabled()) {
    return RoIPoolFunction::apply(features, boxes, spatial_scale, pooled_height, pooled_width);
  }
  return std::get<0>(
             cpu::roi_pool_forward_kernel(features.cpu(), boxes.cpu(), spatial_scale, pooled_height, pooled_width))
      .to(features.device());
}

}  // namespace segkit::ops
