#include "segkit/ops/resized_argmax.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace segkit {
namespace {

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

// Where output index o reads along an axis of `in` samples resized to `out`: two source
// indices and their weights, as LibTorch's compute_source_index_and_lambda (float weights,
// the source position computed in double and rounded to float).
struct Tap {
  int64_t i0, i1;
  float l0, l1;
};

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

// Where output index o reads along an axis resized twice, in -> mid -> out: the two resizes'
// weights multiplied through, at most four taps. Where one of the two keeps the size, these
// are the other's own taps, LibTorch's: a tap of weight 0 on a source another tap reads already
// is left out (a resize that keeps the size reads each source at 1 and 0), a source read twice
// stays twice (LibTorch's last sample: v * l0 + v * l1, not v * (l0 + l1)), so that one resize
// sums as LibTorch does. Where both resize, a source read twice is read once, its weights
// added: 3 taps rather than 4 on most outputs. Every source the two resizes read stays, so a
// NaN reaches the same outputs; an infinity read at weight 0 as well as at another may stay
// infinite here where LibTorch's two passes make it NaN.
struct Taps {
  int n = 0;
  int64_t index[4];
  float weight[4];
  void add(int64_t i, float w, bool merge) {
    const int64_t k = std::find(index, index + n, i) - index;
    if (k < n && (w == 0.f || merge)) {
      weight[k] += w;
      return;
    }
    index[n] = i;
    weight[n++] = w;
  }
};

std::vector<Taps> composed_taps(int64_t in, int64_t mid, int64_t out) {
  const std::vector<Tap> first = taps(in, mid), second = taps(mid, out);
  const bool merge = in != mid && mid != out;
  std::vector<Taps> result(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const Tap& s = second[static_cast<size_t>(o)];
    const Tap& a = first[static_cast<size_t>(s.i0)];
    const Tap& b = first[static_cast<size_t>(s.i1)];
    Taps& t = result[static_cast<size_t>(o)];
    t.add(a.i0, s.l0 * a.l0, merge);
    t.add(a.i1, s.l0 * a.l1, merge);
    t.add(b.i0, s.l1 * b.l0, merge);
    t.add(b.i1, s.l1 * b.l1, merge);
  }
  return result;
}

// Each source pixel's winning class where no rounding of the resize can change it, else -1: a
// resized value is a sum of source values times weights of at least 0, the same sum for every
// class, and rounding keeps the order of such sums (never reverses it). Where the same class
// wins at every source pixel an output reads, by more than the rounding of the sums could
// close (1e-5 of the largest magnitude; the sums' error is below 1e-6 of it), it wins there.
// Ties, NaN and infinities give -1: those pixels are resized and compared in full.
std::vector<int32_t> sure_classes(const float* src, int64_t channels, int64_t pixels) {
  std::vector<int32_t> best(static_cast<size_t>(pixels));
  std::vector<float> margin(static_cast<size_t>(pixels)), magnitude(static_cast<size_t>(pixels));
  constexpr float kLowest = -std::numeric_limits<float>::infinity();
  at::parallel_for(0, pixels, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      // In passes of four lanes without branches, as first_argmax: the largest and smallest
      // values and whether all are finite, then the largest value below the top and how
      // often the top occurs (twice: a tie, no margin).
      const float* v = src + p * channels;
      float hi[4] = {v[0], v[0], v[0], v[0]}, lo[4] = {v[0], v[0], v[0], v[0]}, zero[4] = {0.f, 0.f, 0.f, 0.f};
      const auto scan = [&](int64_t k, int j) {
        hi[j] = v[k] > hi[j] ? v[k] : hi[j];
        lo[j] = v[k] < lo[j] ? v[k] : lo[j];
        zero[j] += v[k] * 0.f;
      };
      int64_t k = 0;
      for (; k + 4 <= channels; k += 4) {
        for (int j = 0; j < 4; ++j) scan(k + j, j);
      }
      for (; k < channels; ++k) scan(k, 0);
      if (zero[0] + zero[1] + zero[2] + zero[3] != 0.f) {
        best[p] = -1, margin[p] = 0.f, magnitude[p] = 0.f;
        continue;
      }
      const float top = std::max(std::max(hi[0], hi[1]), std::max(hi[2], hi[3]));
      const float low = std::min(std::min(lo[0], lo[1]), std::min(lo[2], lo[3]));
      float below[4] = {kLowest, kLowest, kLowest, kLowest};
      int at_top[4] = {0, 0, 0, 0};
      const auto rank = [&](int64_t k, int j) {
        below[j] = v[k] < top && v[k] > below[j] ? v[k] : below[j];
        at_top[j] += v[k] == top;
      };
      for (k = 0; k + 4 <= channels; k += 4) {
        for (int j = 0; j < 4; ++j) rank(k + j, j);
      }
      for (; k < channels; ++k) rank(k, 0);
      const float second = std::max(std::max(below[0], below[1]), std::max(below[2], below[3]));
      int32_t index = 0;
      while (v[index] != top) ++index;
      best[p] = index;
      margin[p] = at_top[0] + at_top[1] + at_top[2] + at_top[3] > 1 ? 0.f : top - second;  // +inf for one class
      magnitude[p] = std::max(top, -low);
    }
  });
  // Near the largest float the sums may overflow, and near the smallest their rounding is no
  // longer relative: no shortcut there.
  const float largest = *std::max_element(magnitude.begin(), magnitude.end());
  const float tolerance = largest > std::numeric_limits<float>::max() / 16
                              ? std::numeric_limits<float>::infinity()
                              : std::max(1e-5f * largest, 64 * std::numeric_limits<float>::min());
  for (int64_t p = 0; p < pixels; ++p) {
    if (!(margin[p] > tolerance)) best[p] = -1;
  }
  return best;
}

}  // namespace

at::Tensor resized_argmax(const at::Tensor& logits, int64_t height, int64_t width) {
  TORCH_CHECK(logits.dim() == 3, "resized_argmax takes C x h x w logits, got ", logits.sizes());
  return resized_argmax(logits, logits.size(1), logits.size(2), height, width);
}

at::Tensor resized_argmax(const at::Tensor& logits, int64_t mid_height, int64_t mid_width, int64_t height,
                          int64_t width) {
  TORCH_CHECK(logits.dim() == 3 && logits.size(0) > 0 && logits.size(1) > 0 && logits.size(2) > 0,
              "resized_argmax takes C x h x w logits, got ", logits.sizes());
  TORCH_CHECK(mid_height > 0 && mid_width > 0 && height > 0 && width > 0, "resized_argmax: a size is empty");
  const int64_t channels = logits.size(0), in_h = logits.size(1), in_w = logits.size(2);
  const at::Tensor hwc = logits.to(at::kCPU, at::kFloat).permute({1, 2, 0}).contiguous();  // channels innermost
  const float* src = hwc.data_ptr<float>();
  const std::vector<Taps> rows = composed_taps(in_h, mid_height, height), cols = composed_taps(in_w, mid_width, width);
  // The shortcut pays where outputs outnumber the source pixels it must classify first.
  const std::vector<int32_t> sure =
      in_h * in_w < height * width ? sure_classes(src, channels, in_h * in_w) : std::vector<int32_t>();
  at::Tensor out = at::empty({height, width}, at::kLong);
  int64_t* dst = out.data_ptr<int64_t>();
  constexpr int64_t kBand = 32;  // output rows that share their source rows' work
  // Where there are more output rows than source rows, each source row's resize across is
  // computed once and read by the output rows around it; elsewhere each sum is taken whole.
  const bool reuse_rows = height > in_h;
  at::parallel_for(0, (height + kBand - 1) / kBand, 1, [&](int64_t band_begin, int64_t band_end) {
    std::vector<float> value(static_cast<size_t>(channels)), across;
    std::vector<int32_t> sure_across;  // per source row and output column: the class all its column taps agree on
    std::vector<char> ready;
    for (int64_t band = band_begin; band < band_end; ++band) {
      const int64_t y0 = band * kBand, y1 = std::min(height, y0 + kBand);
      int64_t lo = in_h, hi = 0;
      for (int64_t y = y0; y < y1; ++y) {
        const Taps& r = rows[static_cast<size_t>(y)];
        for (int i = 0; i < r.n; ++i) lo = std::min(lo, r.index[i]), hi = std::max(hi, r.index[i]);
      }
      const int64_t span = hi - lo + 1;
      sure_across.assign(static_cast<size_t>(span * width), -1);
      for (int64_t s = 0; s < span && !sure.empty(); ++s) {
        const int32_t* row = sure.data() + (lo + s) * in_w;
        for (int64_t x = 0; x < width; ++x) {
          const Taps& c = cols[static_cast<size_t>(x)];
          int32_t agreed = row[c.index[0]];
          for (int j = 1; j < c.n; ++j) agreed = row[c.index[j]] == agreed ? agreed : -1;
          sure_across[static_cast<size_t>(s * width + x)] = agreed;
        }
      }
      // The columns' resize of a source row at an output column, computed when first needed.
      if (reuse_rows) {
        across.resize(static_cast<size_t>(span * width * channels));
        ready.assign(static_cast<size_t>(span * width), 0);
      }
      auto resized_across = [&](int64_t s, int64_t x) {
        float* t = across.data() + (s * width + x) * channels;
        if (!ready[static_cast<size_t>(s * width + x)]) {
          ready[static_cast<size_t>(s * width + x)] = 1;
          const Taps& c = cols[static_cast<size_t>(x)];
          const float* row = src + (lo + s) * in_w * channels;
          const float* a = row + c.index[0] * channels;
          for (int64_t k = 0; k < channels; ++k) t[k] = a[k] * c.weight[0];
          for (int j = 1; j < c.n; ++j) {
            const float* b = row + c.index[j] * channels;
            for (int64_t k = 0; k < channels; ++k) t[k] += b[k] * c.weight[j];
          }
        }
        return static_cast<const float*>(t);
      };
      for (int64_t y = y0; y < y1; ++y) {
        const Taps& r = rows[static_cast<size_t>(y)];
        for (int64_t x = 0; x < width; ++x) {
          int32_t agreed = sure_across[static_cast<size_t>((r.index[0] - lo) * width + x)];
          for (int i = 1; i < r.n; ++i) {
            agreed = sure_across[static_cast<size_t>((r.index[i] - lo) * width + x)] == agreed ? agreed : -1;
          }
          if (agreed >= 0) {
            dst[y * width + x] = agreed;
            continue;
          }
          if (reuse_rows) {
            const float* a = resized_across(r.index[0] - lo, x);
            for (int64_t k = 0; k < channels; ++k) value[k] = a[k] * r.weight[0];
            for (int i = 1; i < r.n; ++i) {
              const float* b = resized_across(r.index[i] - lo, x);
              for (int64_t k = 0; k < channels; ++k) value[k] += b[k] * r.weight[i];
            }
          } else if (const Taps& c = cols[static_cast<size_t>(x)]; r.n == 2 && c.n == 2) {  // one resize's sum
            const float w00 = r.weight[0] * c.weight[0], w01 = r.weight[0] * c.weight[1];
            const float w10 = r.weight[1] * c.weight[0], w11 = r.weight[1] * c.weight[1];
            const float* a = src + (r.index[0] * in_w + c.index[0]) * channels;
            const float* b = src + (r.index[0] * in_w + c.index[1]) * channels;
            const float* d = src + (r.index[1] * in_w + c.index[0]) * channels;
            const float* e = src + (r.index[1] * in_w + c.index[1]) * channels;
            for (int64_t k = 0; k < channels; ++k) value[k] = a[k] * w00 + b[k] * w01 + d[k] * w10 + e[k] * w11;
          } else {
            for (int i = 0; i < r.n; ++i) {
              for (int j = 0; j < c.n; ++j) {
                const float w = r.weight[i] * c.weight[j];
                const float* a = src + (r.index[i] * in_w + c.index[j]) * channels;
                if (i + j == 0) {
                  for (int64_t k = 0; k < channels; ++k) value[k] = a[k] * w;
                } else {
                  for (int64_t k = 0; k < channels; ++k) value[k] += a[k] * w;
                }
              }
            }
          }
          dst[y * width + x] = first_argmax(value.data(), channels);
        }
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
