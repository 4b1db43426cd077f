#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cfloat>
#include <cmath>

#include "kernels.h"

namespace segkit::ops::cpu {
namespace {

template <typename T>
void pool_forward(const at::Tensor& input, const at::Tensor& rois, T scale, at::Tensor& output, at::Tensor& argmax) {
  const int64_t channels = input.size(1), height = input.size(2), width = input.size(3);
  const int64_t pooled_height = output.size(2), pooled_width = output.size(3);
  const int64_t plane = height * width, bins = pooled_height * pooled_width;
  const T* in = input.data_ptr<T>();
  const T* roi_data = rois.data_ptr<T>();
  T* out = output.data_ptr<T>();
  int* where = argmax.data_ptr<int>();
  at::parallel_for(0, rois.size(0), 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const T* roi = roi_data + 5 * r;
      const int64_t image = static_cast<int64_t>(roi[0]);
      // The quantization: the region rounded to whole feature pixels, at least one pixel.
      const int left = static_cast<int>(std::round(roi[1] * scale));
      const int top = static_cast<int>(std::round(roi[2] * scale));
      const int right = static_cast<int>(std::round(roi[3] * scale));
      const int bottom = static_cast<int>(std::round(roi[4] * scale));
      const T bin_height = static_cast<T>(std::max(bottom - top + 1, 1)) / static_cast<T>(pooled_height);
      const T bin_width = static_cast<T>(std::max(right - left + 1, 1)) / static_cast<T>(pooled_width);
      for (int64_t by = 0; by < pooled_height; ++by) {
        for (int64_t bx = 0; bx < pooled_width; ++bx) {
          // ... and each bin rounded outwards, then cut to the plane.
          auto clamp = [](int64_t v, int64_t size) { return std::min(std::max<int64_t>(v, 0), size); };
          const int64_t y0 = clamp(static_cast<int>(std::floor(static_cast<T>(by) * bin_height)) + top, height);
          const int64_t y1 = clamp(static_cast<int>(std::ceil(static_cast<T>(by + 1) * bin_height)) + top, height);
          const int64_t x0 = clamp(static_cast<int>(std::floor(static_cast<T>(bx) * bin_width)) + left, width);
          const int64_t x1 = clamp(static_cast<int>(std::ceil(static_cast<T>(bx + 1) * bin_width)) + left, width);
          const bool empty = y1 <= y0 || x1 <= x0;
          for (int64_t c = 0; c < channels; ++c) {
            const T* source = in + (image * channels + c) * plane;
            T best = empty ? T(0) : T(-FLT_MAX);
            int best_at = -1;  // nothing pooled: no gradient
            for (int64_t y = y0; y < y1; ++y) {
              for (int64_t x = x0; x < x1; ++x) {
                if (source[y * width + x] > best) {
                  best = source[y * width + x];
                  best_at = static_cast<int>(y * width + x);
                }
              }
            }
            const int64_t index = (r * channels + c) * bins + by * pooled_width + bx;
            out[index] = best;
            where[index] = best_at;
          }
        }
      }
    }
  });
}

template <typename T>
void pool_backward(const at::Tensor& grad_output, const at::Tensor& rois, const at::Tensor& argmax,
                   at::Tensor& grad_input) {
  const int64_t regions = grad_output.size(0), channels = grad_output.size(1);
  const int64_t bins = grad_output.size(2) * grad_output.size(3);
  const int64_t plane = grad_input.size(2) * grad_input.size(3);
  const T* grad = grad_output.data_ptr<T>();
  const T* roi = rois.data_ptr<T>();
  const int* where = argmax.data_ptr<int>();
  T* result = grad_input.data_ptr<T>();
  at::parallel_for(0, channels, 1, [&](int64_t begin, int64_t end) {  // planes apart: no races
    for (int64_t r = 0; r < regions; ++r) {
      const int64_t image = static_cast<int64_t>(roi[5 * r]);
      for (int64_t c = begin; c < end; ++c) {
        T* target = result + (image * channels + c) * plane;
        const int64_t first = (r * channels + c) * bins;
        for (int64_t bin = 0; bin < bins; ++bin) {
          if (where[first + bin] >= 0) target[where[first + bin]] += grad[first + bin];
        }
      }
    }
  });
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> roi_pool_forward_kernel(const at::Tensor& input, const at::Tensor& rois,
                                                           double spatial_scale, int64_t pooled_height,
                                                           int64_t pooled_width) {
  at::Tensor output = at::zeros({rois.size(0), input.size(1), pooled_height, pooled_width}, input.options());
  at::Tensor argmax = at::zeros(output.sizes(), input.options().dtype(at::kInt));
  if (output.numel() == 0) return {output, argmax};
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "roi_pool_forward", [&] {
    pool_forward<scalar_t>(input.contiguous(), rois.contiguous(), static_cast<scalar_t>(spatial_scale), output, argmax);
  });
  return {output, argmax};
}

at::Tensor roi_pool_backward_kernel(const at::Tensor& grad_output, const at::Tensor& rois, const at::Tensor& argmax,
                                    at::IntArrayRef input_sizes) {
  at::Tensor grad_input = at::zeros(input_sizes, grad_output.options());
  if (grad_output.numel() == 0) return grad_input;
  AT_DISPATCH_FLOATING_TYPES(grad_output.scalar_type(), "roi_pool_backward", [&] {
    pool_backward<scalar_t>(grad_output.contiguous(), rois.contiguous(), argmax.contiguous(), grad_input);
  });
  return grad_input;
}

}  // namespace segkit::ops::cpu
