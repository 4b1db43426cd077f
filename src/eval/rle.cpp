#include "segkit/eval/rle.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "segkit/core/errors.h"

namespace segkit {

Rle rle_encode(const at::Tensor& mask) {
  TORCH_CHECK(mask.dim() == 2, "rle_encode: expected an H x W mask, got ", mask.sizes());
  Rle rle{mask.size(0), mask.size(1), {}};
  // Column-major: the transpose's rows are the mask's columns.
  const at::Tensor flat = mask.ne(0).t().contiguous().to(at::kByte).view(-1);
  const uint8_t* p = flat.data_ptr<uint8_t>();
  const int64_t n = flat.numel();
  uint8_t current = 0;
  uint32_t run = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (p[i] != current) {
      rle.counts.push_back(run);
      run = 0;
      current = p[i];
    }
    ++run;
  }
  rle.counts.push_back(run);
  return rle;
}

void rle_check(const Rle& rle) {
  uint64_t total = 0;
  for (uint32_t c : rle.counts) total += c;
  if (total != static_cast<uint64_t>(rle.height * rle.width)) {
    fail("run-length counts add up to ", total, " pixels, not ", rle.height, " x ", rle.width);
  }
}

at::Tensor rle_decode(const Rle& rle) {
  rle_check(rle);
  at::Tensor flat = at::zeros({rle.width * rle.height}, at::kByte);
  uint8_t* p = flat.data_ptr<uint8_t>();
  int64_t at_pixel = 0;
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    if (i % 2 == 1) std::fill(p + at_pixel, p + at_pixel + rle.counts[i], uint8_t{1});
    at_pixel += rle.counts[i];
  }
  return flat.view({rle.width, rle.height}).t().contiguous();
}

std::string rle_to_string(const Rle& rle) {
  std::string s;
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    int64_t x = rle.counts[i];
    if (i > 2) x -= static_cast<int64_t>(rle.counts[i - 2]);
    bool more = true;
    while (more) {
      int64_t c = x & 0x1f;
      x >>= 5;  // arithmetic shift, as the C code's on a signed long
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(static_cast<char>(c + 48));
    }
  }
  return s;
}

Rle rle_from_string(const std::string& counts, int64_t height, int64_t width) {
  Rle rle{height, width, {}};
  size_t p = 0;
  while (p < counts.size()) {
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= counts.size()) fail("RLE counts string ends inside a number");
      const int64_t c = static_cast<int64_t>(static_cast<unsigned char>(counts[p])) - 48;
      if (c < 0 || c > 63) fail("RLE counts string has a character outside '0'..'o': '", counts[p], "'");
      if (k > 12) fail("RLE counts string has a number too long");
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p, ++k;
      if (!more && (c & 0x10)) x |= static_cast<int64_t>(-1) * (int64_t{1} << (5 * k));
    }
    if (rle.counts.size() > 2) x += rle.counts[rle.counts.size() - 2];
    if (x < 0 || x > height * width) fail("RLE counts string holds a run of ", x, " pixels");
    rle.counts.push_back(static_cast<uint32_t>(x));
  }
  rle_check(rle);
  return rle;
}

Rle rle_from_polygon(const std::vector<double>& xy, int64_t height, int64_t width) {
  // pycocotools' rleFrPoly, step by step (its int and unsigned conversions included).
  const size_t k = xy.size() / 2;
  const double scale = 5;
  std::vector<int> x(k + 1), y(k + 1);
  for (size_t j = 0; j < k; ++j) x[j] = static_cast<int>(scale * xy[j * 2] + .5);
  x[k] = x[0];
  for (size_t j = 0; j < k; ++j) y[j] = static_cast<int>(scale * xy[j * 2 + 1] + .5);
  y[k] = y[0];
  // Points densely along the upsampled outline.
  std::vector<int> u, v;
  for (size_t j = 0; j < k; ++j) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) std::swap(xs, xe), std::swap(ys, ye);
    const double s = dx >= dy ? static_cast<double>(ye - ys) / dx : static_cast<double>(xe - xs) / dy;
    if (dx >= dy) {
      for (int d = 0; d <= dx; ++d) {
        const int t = flip ? dx - d : d;
        u.push_back(t + xs);
        v.push_back(static_cast<int>(ys + s * t + .5));
      }
    } else {
      for (int d = 0; d <= dy; ++d) {
        const int t = flip ? dy - d : d;
        v.push_back(t + ys);
        u.push_back(static_cast<int>(xs + s * t + .5));
      }
    }
  }
  // The points where the outline crosses a column of pixel centres, downsampled.
  std::vector<uint32_t> a;
  for (size_t j = 1; j < u.size(); ++j) {
    if (u[j] == u[j - 1]) continue;
    double xd = static_cast<double>(u[j] < u[j - 1] ? u[j] : u[j] - 1);
    xd = (xd + .5) / scale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > static_cast<double>(width - 1)) continue;
    double yd = static_cast<double>(v[j] < v[j - 1] ? v[j] : v[j - 1]);
    yd = (yd + .5) / scale - .5;
    if (yd < 0) {
      yd = 0;
    } else if (yd > static_cast<double>(height)) {
      yd = static_cast<double>(height);
    }
    yd = std::ceil(yd);
    a.push_back(static_cast<uint32_t>(static_cast<int>(xd) * static_cast<int>(height) + static_cast<int>(yd)));
  }
  a.push_back(static_cast<uint32_t>(height * width));
  std::sort(a.begin(), a.end());
  uint32_t previous = 0;
  for (uint32_t& value : a) {
    const uint32_t t = value;
    value -= previous;
    previous = t;
  }
  Rle rle{height, width, {a[0]}};
  for (size_t j = 1; j < a.size();) {
    if (a[j] > 0) {
      rle.counts.push_back(a[j++]);
    } else {
      ++j;
      if (j < a.size()) rle.counts.back() += a[j++];
    }
  }
  return rle;
}

Rle rle_union(const std::vector<Rle>& masks) {
  if (masks.empty()) return {};
  if (masks.size() == 1) return masks[0];
  at::Tensor any = rle_decode(masks[0]);
  for (size_t i = 1; i < masks.size(); ++i) {
    if (masks[i].height != masks[0].height || masks[i].width != masks[0].width) return {};
    any.logical_or_(rle_decode(masks[i]));
  }
  return rle_encode(any);
}

double box_iou_xywh(const std::array<double, 4>& d, const std::array<double, 4>& g, bool crowd) {
  // pycocotools' bbIou.
  const double w = std::fmin(d[2] + d[0], g[2] + g[0]) - std::fmax(d[0], g[0]);
  if (w <= 0) return 0;
  const double h = std::fmin(d[3] + d[1], g[3] + g[1]) - std::fmax(d[1], g[1]);
  if (h <= 0) return 0;
  const double i = w * h, da = d[2] * d[3], ga = g[2] * g[3];
  return i / (crowd ? da : da + ga - i);
}

double rle_iou(const Rle& dt, const Rle& gt, bool crowd) {
  // pycocotools' rleIou: the boxes first; runs only where they overlap.
  if (box_iou_xywh(rle_bbox(dt), rle_bbox(gt), crowd) <= 0) return 0;
  if (dt.height != gt.height || dt.width != gt.width) return -1;
  uint64_t ca = dt.counts[0], cb = gt.counts[0], i = 0, u = 0;
  size_t a = 1, b = 1;
  bool va = false, vb = false;
  for (uint64_t ct = 1; ct > 0;) {
    const uint64_t c = std::min(ca, cb);
    if (va || vb) {
      u += c;
      if (va && vb) i += c;
    }
    ct = 0;
    ca -= c;
    if (!ca && a < dt.counts.size()) ca = dt.counts[a++], va = !va;
    ct += ca;
    cb -= c;
    if (!cb && b < gt.counts.size()) cb = gt.counts[b++], vb = !vb;
    ct += cb;
  }
  if (i == 0) {
    u = 1;
  } else if (crowd) {
    u = static_cast<uint64_t>(rle_area(dt));
  }
  return static_cast<double>(i) / static_cast<double>(u);
}

int64_t rle_area(const Rle& rle) {
  int64_t area = 0;
  for (size_t i = 1; i < rle.counts.size(); i += 2) area += rle.counts[i];
  return area;
}

std::array<double, 4> rle_bbox(const Rle& rle) {
  // pycocotools' rleToBbox, unsigned arithmetic included.
  const uint64_t h = static_cast<uint64_t>(rle.height), w = static_cast<uint64_t>(rle.width);
  const size_t m = rle.counts.size() / 2 * 2;
  if (m == 0 || h == 0) return {0, 0, 0, 0};
  uint64_t xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
  for (size_t j = 0; j < m; ++j) {
    cc += rle.counts[j];
    const uint64_t t = cc - j % 2, y = t % h, x = (t - y) / h;
    if (j % 2 == 0) {
      xp = x;
    } else if (xp < x) {
      ys = 0, ye = h - 1;
    }
    xs = std::min(xs, x), xe = std::max(xe, x), ys = std::min(ys, y), ye = std::max(ye, y);
  }
  return {static_cast<double>(xs), static_cast<double>(ys), static_cast<double>(xe - xs + 1),
          static_cast<double>(ye - ys + 1)};
}

}  // namespace segkit
