#include "segkit/ops/roi_align.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "checks.h"
#include "cpu/kernels.h"
#include "segkit/ops/boxes.h"

namespace segkit::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class RoIAlignFunction : public torch::autograd::Function<RoIAlignFunction> {
 public:
  static at::Tensor forward(AutogradContext* context, const at::Tensor& features, const at::Tensor& rois,
                            double spatial_scale, int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                            bool aligned) {
    context->saved_data["spatial_scale"] = spatial_scale;
    context->saved_data["sampling_ratio"] = sampling_ratio;
    context->saved_data["aligned"] = aligned;
    context->saved_data["input_sizes"] = features.sizes().vec();
    context->save_for_backward({rois});
    return cpu::roi_align_forward_kernel(features, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio,
                                         aligned);
  }

  static variable_list backward(AutogradContext* context, variable_list grad_outputs) {
    const at::Tensor rois = context->get_saved_variables()[0];
    const at::Tensor grad = cpu::roi_align_backward_kernel(
        grad_outputs[0], rois, context->saved_data["spatial_scale"].toDouble(),
        context->saved_data["sampling_ratio"].toInt(), context->saved_data["aligned"].toBool(),
        context->saved_data["input_sizes"].toIntVector());
    return {grad, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor roi_align(const at::Tensor& features, const at::Tensor& rois, const RoIAlignOptions& options) {
  check_roi_inputs(features, rois, options.pooled_height, options.pooled_width, "roi_align");
  TORCH_CHECK(at::isFloatingType(features.scalar_type()), "roi_align: features should be floating point, got ",
              features.scalar_type());
  // The kernels work in float or double; 16-bit features are pooled in float32.
  const at::Tensor input = widen_16_bit(features);
  const at::Tensor boxes = rois.to(input.scalar_type());
  at::Tensor pooled;
  if (input.is_cpu() && input.requires_grad() && at::GradMode::is_enabled()) {
    pooled = RoIAlignFunction::apply(input, boxes, options.spatial_scale, options.pooled_height, options.pooled_width,
                                     options.sampling_ratio, options.aligned);
  } else {  // no CUDA kernel yet: GPU tensors go through the CPU one (inference only)
    pooled = cpu::roi_align_forward_kernel(input.cpu(), boxes.cpu(), options.spatial_scale, options.pooled_height,
                                           options.pooled_width, options.sampling_ratio, options.aligned)
                 .to(features.device());
  }
  return pooled.to(features.scalar_type());
}

at::Tensor roi_align(const at::Tensor& features, const std::vector<at::Tensor>& boxes, const RoIAlignOptions& options) {
  return roi_align(features, boxes_to_rois(boxes), options);
}

}  // namespace segkit::ops
