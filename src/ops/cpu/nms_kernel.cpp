#include <ATen/ATen.h>

#include <algorithm>
#include <vector>

#include "kernels.h"

namespace segkit::ops::cpu {
namespace {

template <typename T>
at::Tensor greedy_nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  const int64_t count = boxes.size(0);
  // A stable sort, as torchvision's: equal scores keep their input order.
  const at::Tensor order_tensor =
      std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true)).contiguous();
  const int64_t* order = order_tensor.data_ptr<int64_t>();
  const T* box = boxes.data_ptr<T>();
  std::vector<T> area(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    area[i] = (box[4 * i + 2] - box[4 * i]) * (box[4 * i + 3] - box[4 * i + 1]);
  }
  std::vector<char> dropped(static_cast<size_t>(count), 0);
  std::vector<int64_t> kept;
  for (int64_t rank = 0; rank < count; ++rank) {
    const int64_t i = order[rank];
    if (dropped[i]) continue;
    kept.push_back(i);
    const T* a = box + 4 * i;
    for (int64_t later = rank + 1; later < count; ++later) {
      const int64_t j = order[later];
      if (dropped[j]) continue;
      const T* b = box + 4 * j;
      const T width = std::max(T(0), std::min(a[2], b[2]) - std::max(a[0], b[0]));
      const T height = std::max(T(0), std::min(a[3], b[3]) - std::max(a[1], b[1]));
      const T intersection = width * height;
      if (intersection / (area[i] + area[j] - intersection) > iou_threshold) dropped[j] = 1;
    }
  }
  return at::tensor(kept, at::kLong);
}

}  // namespace

at::Tensor nms_kernel(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  if (boxes.size(0) == 0) return at::empty({0}, at::kLong);
  at::Tensor kept;
  AT_DISPATCH_FLOATING_TYPES(boxes.scalar_type(), "nms_kernel", [&] {
    kept = greedy_nms<scalar_t>(boxes.contiguous(), scores.contiguous(), iou_threshold);
  });
  return kept;
}

}  // namespace segkit::ops::cpu
