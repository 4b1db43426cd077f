#include "segkit/ops/nms.h"

#include <ATen/ATen.h>

#include "checks.h"
#include "cpu/kernels.h"

namespace segkit::ops {

at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, "nms: boxes should be [N, 4], got ", boxes.sizes());
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0), "nms: scores should be [", boxes.size(0), "] for ",
              boxes.size(0), " boxes, got ", scores.sizes());
  TORCH_CHECK(boxes.scalar_type() == scores.scalar_type(), "nms: boxes are ", boxes.scalar_type(), " but scores ",
              scores.scalar_type());
  TORCH_CHECK(at::isFloatingType(boxes.scalar_type()), "nms: boxes should be floating point, got ",
              boxes.scalar_type());
  // No CUDA kernel yet: GPU tensors go through the CPU one.
  return cpu::nms_kernel(widen_16_bit(boxes).cpu(), widen_16_bit(scores).cpu(), iou_threshold).to(boxes.device());
}

at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold) {
  TORCH_CHECK(idxs.dim() == 1 && idxs.size(0) == boxes.size(0), "batched_nms: idxs should be [", boxes.size(0),
              "], got ", idxs.sizes());
  if (boxes.numel() == 0) return at::empty({0}, boxes.options().dtype(at::kLong));
  // torchvision's switch: up to 4,000 coordinates (20,000 on CUDA), shift the categories apart.
  if (boxes.numel() <= (boxes.is_cuda() ? 20000 : 4000)) {
    const at::Tensor offsets = idxs.to(boxes.scalar_type()) * (boxes.max() + at::ones({}, boxes.options()));
    return nms(boxes + offsets.unsqueeze(1), scores, iou_threshold);
  }
  at::Tensor kept_mask = at::zeros(scores.sizes(), scores.options().dtype(at::kBool));
  const at::Tensor categories = std::get<0>(at::_unique(idxs));
  for (int64_t k = 0; k < categories.size(0); ++k) {
    const at::Tensor members = at::where(idxs.eq(categories[k]))[0];
    const at::Tensor kept = nms(boxes.index_select(0, members), scores.index_select(0, members), iou_threshold);
    kept_mask.index_fill_(0, members.index_select(0, kept), true);
  }
  const at::Tensor kept = at::where(kept_mask)[0];
  return kept.index_select(0, std::get<1>(scores.index_select(0, kept).sort(/*dim=*/0, /*descending=*/true)));
}

}  // namespace segkit::ops
