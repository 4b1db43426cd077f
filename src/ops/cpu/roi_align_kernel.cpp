#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"

namespace segkit::ops::cpu {
namespace {

// Where one region's bins and samples lie on its feature plane.
template <typename T>
struct RegionGrid {
  int64_t image = 0;
  T top = 0, left = 0;              // the region's corner, in feature pixels
  T bin_height = 0, bin_width = 0;  // one output bin
  int64_t samples_y = 0, samples_x = 0;

  RegionGrid(const T* roi, T scale, int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio, bool aligned) {
    image = static_cast<int64_t>(roi[0]);
    const T offset = aligned ? T(0.5) : T(0);  // no rounding anywhere: that is the point
    left = roi[1] * scale - offset;
    top = roi[2] * scale - offset;
    T width = roi[3] * scale - offset - left;
    T height = roi[4] * scale - offset - top;
    if (!aligned) {  // the original: a degenerate region counts as one pixel
      width = std::max(width, T(1));
      height = std::max(height, T(1));
    }
    bin_height = height / static_cast<T>(pooled_height);
    bin_width = width / static_cast<T>(pooled_width);
    // An inverted region (aligned) has no samples and pools to zero.
    samples_y = sampling_ratio > 0 ? sampling_ratio : static_cast<int64_t>(std::ceil(height / pooled_height));
    samples_x = sampling_ratio > 0 ? sampling_ratio : static_cast<int64_t>(std::ceil(width / pooled_width));
    samples_y = std::max<int64_t>(samples_y, 0);
    samples_x = std::max<int64_t>(samples_x, 0);
  }

  // The iy-th sample row of bin row `bin_y` (and likewise for columns).
  T sample_y(int64_t bin_y, int64_t iy) const {
    return top + bin_y * bin_height + static_cast<T>(iy + .5f) * bin_height / static_cast<T>(samples_y);
  }
  T sample_x(int64_t bin_x, int64_t ix) const {
    return left + bin_x * bin_width + static_cast<T>(ix + .5f) * bin_width / static_cast<T>(samples_x);
  }
};

// A bilinear sample: four pixels of a plane and their weights. Samples more than a pixel
// outside the plane are empty; those within it read the border.
template <typename T>
struct Bilinear {
  bool empty = true;
  int64_t offset[4] = {0, 0, 0, 0};
  T weight[4] = {0, 0, 0, 0};

  Bilinear(T y, T x, int64_t height, int64_t width) {
    if (!(y >= -1 && y <= height && x >= -1 && x <= width)) return;  // NaN is empty too
    empty = false;
    y = std::max(y, T(0));
    x = std::max(x, T(0));
    int64_t y0 = static_cast<int64_t>(y), x0 = static_cast<int64_t>(x), y1 = y0 + 1, x1 = x0 + 1;
    if (y0 >= height - 1) {
      y0 = y1 = height - 1;
      y = static_cast<T>(y0);
    }
    if (x0 >= width - 1) {
      x0 = x1 = width - 1;
      x = static_cast<T>(x0);
    }
    const T dy = y - y0, dx = x - x0, ry = 1. - dy, rx = 1. - dx;
    offset[0] = y0 * width + x0;
    offset[1] = y0 * width + x1;
    offset[2] = y1 * width + x0;
    offset[3] = y1 * width + x1;
    weight[0] = ry * rx;
    weight[1] = ry * dx;
    weight[2] = dy * rx;
    weight[3] = dy * dx;
  }
};

// Forward over features laid out as planes (NCHW): the samples of a region are found once,
// then each channel's plane is read through them.
template <typename T>
void align_forward_planar(const at::Tensor& input, const at::Tensor& rois, T scale, int64_t pooled_height,
                          int64_t pooled_width, int64_t sampling_ratio, bool aligned, at::Tensor& output) {
  const int64_t channels = input.size(1), height = input.size(2), width = input.size(3);
  const int64_t plane = height * width, bins = pooled_height * pooled_width;
  const T* in = input.data_ptr<T>();
  const T* roi = rois.data_ptr<T>();
  T* out = output.data_ptr<T>();
  at::parallel_for(0, rois.size(0), 1, [&](int64_t begin, int64_t end) {
    std::vector<Bilinear<T>> samples;
    for (int64_t r = begin; r < end; ++r) {
      const RegionGrid<T> grid(roi + 5 * r, scale, pooled_height, pooled_width, sampling_ratio, aligned);
      // The samples are the same for every channel: found once, in bin order.
      samples.clear();
      for (int64_t by = 0; by < pooled_height; ++by) {
        for (int64_t bx = 0; bx < pooled_width; ++bx) {
          for (int64_t iy = 0; iy < grid.samples_y; ++iy) {
            for (int64_t ix = 0; ix < grid.samples_x; ++ix) {
              samples.emplace_back(grid.sample_y(by, iy), grid.sample_x(bx, ix), height, width);
            }
          }
        }
      }
      const int64_t per_bin = grid.samples_y * grid.samples_x;
      const T count = static_cast<T>(std::max<int64_t>(per_bin, 1));  // an empty grid gives zeros
      for (int64_t c = 0; c < channels; ++c) {
        const T* source = in + (grid.image * channels + c) * plane;
        T* target = out + (r * channels + c) * bins;
        const Bilinear<T>* sample = samples.data();
        for (int64_t bin = 0; bin < bins; ++bin) {
          T sum = 0;
          for (int64_t k = 0; k < per_bin; ++k, ++sample) {
            if (sample->empty) continue;
            sum += sample->weight[0] * source[sample->offset[0]] + sample->weight[1] * source[sample->offset[1]] +
                   sample->weight[2] * source[sample->offset[2]] + sample->weight[3] * source[sample->offset[3]];
          }
          target[bin] = sum / count;
        }
      }
    }
  });
}

// Forward over features laid out channels-last: a sample's four pixels are four contiguous runs
// of all channels, so every channel accumulates at once (vectorized) in a row of sums. Each
// channel still adds its samples in bin order, one w1 v1 + w2 v2 + w3 v3 + w4 v4 at a time:
// the same sums, in the same order, as the channel-by-channel reference.
template <typename T>
void align_forward_channels_last(const at::Tensor& input, const at::Tensor& rois, T scale, int64_t pooled_height,
                                 int64_t pooled_width, int64_t sampling_ratio, bool aligned, at::Tensor& output) {
  const int64_t channels = input.size(1), height = input.size(2), width = input.size(3);
  const int64_t bins = pooled_height * pooled_width;
  const T* in = input.data_ptr<T>();  // [N][H][W][C]
  const T* roi = rois.data_ptr<T>();
  T* out = output.data_ptr<T>();
  at::parallel_for(0, rois.size(0), 1, [&](int64_t begin, int64_t end) {
    std::vector<T> sum(static_cast<size_t>(channels));
    for (int64_t r = begin; r < end; ++r) {
      const RegionGrid<T> grid(roi + 5 * r, scale, pooled_height, pooled_width, sampling_ratio, aligned);
      const T* image = in + grid.image * height * width * channels;
      const T count = static_cast<T>(std::max<int64_t>(grid.samples_y * grid.samples_x, 1));  // empty: zeros
      T* target = out + r * channels * bins;
      for (int64_t by = 0; by < pooled_height; ++by) {
        for (int64_t bx = 0; bx < pooled_width; ++bx) {
          std::fill(sum.begin(), sum.end(), T(0));
          for (int64_t iy = 0; iy < grid.samples_y; ++iy) {
            for (int64_t ix = 0; ix < grid.samples_x; ++ix) {
              const Bilinear<T> s(grid.sample_y(by, iy), grid.sample_x(bx, ix), height, width);
              if (s.empty) continue;
              const T *p0 = image + s.offset[0] * channels, *p1 = image + s.offset[1] * channels;
              const T *p2 = image + s.offset[2] * channels, *p3 = image + s.offset[3] * channels;
              const T w0 = s.weight[0], w1 = s.weight[1], w2 = s.weight[2], w3 = s.weight[3];
              T* acc = sum.data();
              for (int64_t c = 0; c < channels; ++c) acc[c] += w0 * p0[c] + w1 * p1[c] + w2 * p2[c] + w3 * p3[c];
            }
          }
          const int64_t bin = by * pooled_width + bx;
          for (int64_t c = 0; c < channels; ++c) target[c * bins + bin] = sum[c] / count;
        }
      }
    }
  });
}

// Each channel's plane receives from every region in region order, so the sums are the same
// whatever the threads (channels are split between them, never regions).
template <typename T>
void align_backward(const at::Tensor& grad_output, const at::Tensor& rois, T scale, int64_t sampling_ratio,
                    bool aligned, at::Tensor& grad_input) {
  const int64_t regions = grad_output.size(0), channels = grad_output.size(1);
  const int64_t pooled_height = grad_output.size(2), pooled_width = grad_output.size(3);
  const int64_t height = grad_input.size(2), width = grad_input.size(3);
  const int64_t plane = height * width, bins = pooled_height * pooled_width;
  const T* grad = grad_output.data_ptr<T>();
  const T* roi = rois.data_ptr<T>();
  T* result = grad_input.data_ptr<T>();
  at::parallel_for(0, channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = 0; r < regions; ++r) {
      const RegionGrid<T> grid(roi + 5 * r, scale, pooled_height, pooled_width, sampling_ratio, aligned);
      const T count = static_cast<T>(grid.samples_y * grid.samples_x);
      for (int64_t c = begin; c < end; ++c) {
        T* target = result + (grid.image * channels + c) * plane;
        const T* source = grad + (r * channels + c) * bins;
        for (int64_t by = 0; by < pooled_height; ++by) {
          for (int64_t bx = 0; bx < pooled_width; ++bx) {
            const T g = source[by * pooled_width + bx];
            for (int64_t iy = 0; iy < grid.samples_y; ++iy) {
              for (int64_t ix = 0; ix < grid.samples_x; ++ix) {
                const Bilinear<T> s(grid.sample_y(by, iy), grid.sample_x(bx, ix), height, width);
                if (s.empty) continue;
                for (int k = 0; k < 4; ++k) target[s.offset[k]] += g * s.weight[k] / count;
              }
            }
          }
        }
      }
    }
  });
}

// Channels-last is faster per sample but may need the features rearranged first: worth it when
// they are already so, or when the samples (about four per bin) outnumber the pixels.
bool prefer_channels_last(const at::Tensor& input, int64_t regions, int64_t bins) {
  if (input.is_contiguous(at::MemoryFormat::ChannelsLast) && !input.is_contiguous()) return true;
  return regions * bins * 4 >= input.size(0) * input.size(2) * input.size(3);
}

}  // namespace

at::Tensor roi_align_forward_kernel(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                                    int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio, bool aligned) {
  at::Tensor output = at::zeros({rois.size(0), input.size(1), pooled_height, pooled_width}, input.options());
  if (output.numel() == 0) return output;
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "roi_align_forward", [&] {
    const scalar_t scale = static_cast<scalar_t>(spatial_scale);
    if (prefer_channels_last(input, rois.size(0), pooled_height * pooled_width)) {
      align_forward_channels_last<scalar_t>(input.contiguous(at::MemoryFormat::ChannelsLast), rois.contiguous(), scale,
                                            pooled_height, pooled_width, sampling_ratio, aligned, output);
    } else {
      align_forward_planar<scalar_t>(input.contiguous(), rois.contiguous(), scale, pooled_height, pooled_width,
                                     sampling_ratio, aligned, output);
    }
  });
  return output;
}

at::Tensor roi_align_backward_kernel(const at::Tensor& grad_output, const at::Tensor& rois, double spatial_scale,
                                     int64_t sampling_ratio, bool aligned, at::IntArrayRef input_sizes) {
  at::Tensor grad_input = at::zeros(input_sizes, grad_output.options());
  if (grad_output.numel() == 0) return grad_input;
  AT_DISPATCH_FLOATING_TYPES(grad_output.scalar_type(), "roi_align_backward", [&] {
    align_backward<scalar_t>(grad_output.contiguous(), rois.contiguous(), static_cast<scalar_t>(spatial_scale),
                             sampling_ratio, aligned, grad_input);
  });
  return grad_input;
}

}  // namespace segkit::ops::cpu
