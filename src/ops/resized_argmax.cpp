#include "segkit/ops/resized_argmax.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace segkit {
namespace {

// Where output index o reads along an axis of `in` samples resized to `out`: two source
// indices and their weights, as LibTorch's compute_source_index_and_lambda (float weights,
// the source position computed in double and rounded to float).
struct Tap {
  int64_t i0, i1;
  float l0, l1;
};

// Whether value v takes the argmax from the best so far, m, as at::argmax decides: larger, or
// the first NaN (the first of equal values stays).
inline bool beats(float v, float m) { return v > m || (std::isnan(v) && !std::isnan(m)); }

// The first channel with the largest value, NaN above all (the first NaN), as at::argmax. For
// finite values in two passes, the maximum then where it first is, rather than one comparison
// chain with the best so far: which channels beat the running best changes from pixel to
// pixel and those branches went wrong, where the winning channel mostly stays from one pixel
// to the next. Four maxima at once, and four sums of value * 0, zero unless a value is NaN or
// infinite (then the chain decides).
int64_t first_argmax(const float* value, int64_t channels) {
  float lane[4] = {value[0], value[0], value[0], value[0]}, zero[4] = {0.f, 0.f, 0.f, 0.f};
  int64_t k = 0;
  for (; k + 4 <= channels; k += 4) {
    for (int j = 0; j < 4; ++j) {
      const float v = value[k + j];
      lane[j] = v > lane[j] ? v : lane[j];
      zero[j] += v * 0.f;
    }
  }
  for (; k < channels; ++k) {
    lane[0] = value[k] > lane[0] ? value[k] : lane[0];
    zero[0] += value[k] * 0.f;
  }
  if (zero[0] + zero[1] + zero[2] + zero[3] != 0.f) {
    int64_t best = 0;
    for (k = 1; k < channels; ++k) {
      if (beats(value[k], value[best])) best = k;
    }
    return best;
  }
  const float m01 = lane[1] > lane[0] ? lane[1] : lane[0], m23 = lane[3] > lane[2] ? lane[3] : lane[2];
  const float best = m23 > m01 ? m23 : m01;
  for (k = 0; value[k] != best; ++k) {
  }
  return k;
}

std::vector<Tap> taps(int64_t in, int64_t out) {
  std::vector<Tap> result(static_cast<size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    Tap& t = result[static_cast<size_t>(o)];
    if (in == out) {
      t = {o, o, 1.f, 0.f};
      continue;
    }
    float real = static_cast<float>(scale * (static_cast<double>(o) + 0.5) - 0.5);
    real = real < 0 ? 0.f : real;
    t.i0 = static_cast<int64_t>(real);
    t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
    t.l1 = std::min(std::max(real - static_cast<float>(t.i0), 0.f), 1.f);
    t.l0 = 1.f - t.l1;
  }
  return result;
}

}  // namespace

at::Tensor resized_argmax(const at::Tensor& logits, int64_t height, int64_t width) {
  TORCH_CHECK(logits.dim() == 3 && logits.size(0) > 0, "resized_argmax takes C x h x w logits, got ", logits.sizes());
  TORCH_CHECK(height > 0 && width > 0, "resized_argmax: the output must not be empty");
  const int64_t channels = logits.size(0), in_h = logits.size(1), in_w = logits.size(2);
  const at::Tensor hwc = logits.to(at::kCPU, at::kFloat).permute({1, 2, 0}).contiguous();  // channels innermost
  const float* src = hwc.data_ptr<float>();
  const std::vector<Tap> rows = taps(in_h, height), cols = taps(in_w, width);
  at::Tensor out = at::empty({height, width}, at::kLong);
  int64_t* dst = out.data_ptr<int64_t>();
  at::parallel_for(0, height, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> value(static_cast<size_t>(channels));
    for (int64_t y = begin; y < end; ++y) {
      const Tap& r = rows[static_cast<size_t>(y)];
      const float* top = src + r.i0 * in_w * channels;
      const float* bottom = src + r.i1 * in_w * channels;
      for (int64_t x = 0; x < width; ++x) {
        const Tap& c = cols[static_cast<size_t>(x)];
        const float w00 = r.l0 * c.l0, w01 = r.l0 * c.l1, w10 = r.l1 * c.l0, w11 = r.l1 * c.l1;
        const float* a = top + c.i0 * channels;
        const float* b = top + c.i1 * channels;
        const float* d = bottom + c.i0 * channels;
        const float* e = bottom + c.i1 * channels;
        for (int64_t k = 0; k < channels; ++k) value[k] = a[k] * w00 + b[k] * w01 + d[k] * w10 + e[k] * w11;
        dst[y * width + x] = first_argmax(value.data(), channels);
      }
    }
  });
  return out;
}

at::Tensor channel_argmax(const at::Tensor& logits) {
  TORCH_CHECK(logits.dim() == 3 && logits.size(0) > 0, "channel_argmax takes C x H x W logits, got ", logits.sizes());
  const at::Tensor values = logits.to(at::kCPU, at::kFloat);
  const int64_t channels = values.size(0), height = values.size(1), width = values.size(2);
  const int64_t sc = values.stride(0), sy = values.stride(1), sx = values.stride(2);
  const float* src = values.data_ptr<float>();
  at::Tensor out = at::empty({height, width}, at::kLong);
  int64_t* dst = out.data_ptr<int64_t>();
  at::parallel_for(0, height, 8, [&](int64_t begin, int64_t end) {
    std::vector<float> best(static_cast<size_t>(width));
    for (int64_t y = begin; y < end; ++y) {
      int64_t* index = dst + y * width;
      const float* first = src + y * sy;
      for (int64_t x = 0; x < width; ++x) {
        best[x] = first[x * sx];
        index[x] = 0;
      }
      for (int64_t k = 1; k < channels; ++k) {  // a plane at a time: rows of it stream through the cache
        const float* row = first + k * sc;
        for (int64_t x = 0; x < width; ++x) {
          const float v = row[x * sx];
          if (beats(v, best[x])) {
            best[x] = v;
            index[x] = k;
          }
        }
      }
    }
  });
  return out;
}

}  // namespace segkit
