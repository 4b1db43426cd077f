#include "segkit/data/classification_augment.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "segkit/io/image.h"

namespace segkit {
namespace {

double uniform(std::mt19937_64& rng, double low, double high) {
  return low == high ? low : std::uniform_real_distribution<double>(low, high)(rng);
}

bool coin(std::mt19937_64& rng, double p = 0.5) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

double beta(std::mt19937_64& rng, double alpha) {
  const double x = std::gamma_distribution<double>(alpha, 1.0)(rng);
  const double y = std::gamma_distribution<double>(alpha, 1.0)(rng);
  return x + y > 0 ? x / (x + y) : 0.5;
}

// torchvision's rgb_to_grayscale weights.
at::Tensor grayscale(const at::Tensor& rgb) { return (rgb[0] * 0.2989 + rgb[1] * 0.587 + rgb[2] * 0.114).unsqueeze(0); }

at::Tensor blend(const at::Tensor& image, const at::Tensor& other, double ratio) {
  return (image * ratio + other * (1 - ratio)).clamp_(0, 1);
}

// torchvision's _rgb2hsv / _hsv2rgb on 3 x H x W floats in [0, 1], hue in [0, 1).
at::Tensor rgb_to_hsv(const at::Tensor& rgb) {
  const at::Tensor r = rgb[0], g = rgb[1], b = rgb[2];
  const at::Tensor maxc = std::get<0>(rgb.max(0)), minc = std::get<0>(rgb.min(0));
  const at::Tensor eqc = maxc.eq(minc);
  const at::Tensor cr = maxc - minc;
  const at::Tensor ones = at::ones_like(maxc);
  const at::Tensor s = cr / at::where(eqc, ones, maxc);
  const at::Tensor cr_divisor = at::where(eqc, ones, cr);
  const at::Tensor rc = (maxc - r) / cr_divisor, gc = (maxc - g) / cr_divisor, bc = (maxc - b) / cr_divisor;
  const at::Tensor hr = maxc.eq(r) * (bc - gc);
  const at::Tensor hg = (maxc.eq(g) & maxc.ne(r)) * (2.0 + rc - bc);
  const at::Tensor hb = (maxc.ne(g) & maxc.ne(r)) * (4.0 + gc - rc);
  const at::Tensor h = at::fmod((hr + hg + hb) / 6.0 + 1.0, 1.0);
  return at::stack({h, s, maxc});
}

at::Tensor hsv_to_rgb(const at::Tensor& hsv) {
  const at::Tensor h = hsv[0], s = hsv[1], v = hsv[2];
  const at::Tensor i = at::floor(h * 6.0);
  const at::Tensor f = h * 6.0 - i;
  const at::Tensor k = i.to(at::kInt).remainder(6);
  const at::Tensor p = (v * (1.0 - s)).clamp(0, 1), q = (v * (1.0 - s * f)).clamp(0, 1),
                   t = (v * (1.0 - s * (1.0 - f))).clamp(0, 1);
  const at::Tensor mask = k.unsqueeze(0).eq(at::arange(6, at::kInt).view({6, 1, 1}));
  const at::Tensor a1 = at::stack({v, q, p, p, t, v}), a2 = at::stack({t, v, v, q, p, p}),
                   a3 = at::stack({p, p, t, v, v, q});
  return at::stack({(mask * a1).sum(0), (mask * a2).sum(0), (mask * a3).sum(0)});
}

}  // namespace

std::array<int64_t, 4> random_resized_crop_box(int64_t height, int64_t width, const ClassAugmentOptions& o,
                                               std::mt19937_64& rng) {
  const double area = static_cast<double>(height * width);
  const double log_min = std::log(o.ratio_min), log_max = std::log(o.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * uniform(rng, o.scale_min, o.scale_max);
    const double aspect = std::exp(uniform(rng, log_min, log_max));
    const auto w = static_cast<int64_t>(std::llround(std::sqrt(target * aspect)));
    const auto h = static_cast<int64_t>(std::llround(std::sqrt(target / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int64_t top = std::uniform_int_distribution<int64_t>(0, height - h)(rng);
      const int64_t left = std::uniform_int_distribution<int64_t>(0, width - w)(rng);
      return {top, left, h, w};
    }
  }
  // Fallback: the whole image's center, its aspect clamped to the range.
  const double ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (ratio < o.ratio_min) {
    h = static_cast<int64_t>(std::llround(width / o.ratio_min));
  } else if (ratio > o.ratio_max) {
    w = static_cast<int64_t>(std::llround(height * o.ratio_max));
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

at::Tensor color_jitter(const at::Tensor& rgb, const ClassAugmentOptions& o, std::mt19937_64& rng) {
  std::array<int, 4> order{0, 1, 2, 3};
  std::shuffle(order.begin(), order.end(), rng);
  at::Tensor x = rgb;
  for (int which : order) {
    switch (which) {
      case 0:
        if (o.brightness > 0) {
          x = blend(x, at::zeros_like(x), uniform(rng, std::max(0.0, 1 - o.brightness), 1 + o.brightness));
        }
        break;
      case 1:
        if (o.contrast > 0) {
          const double factor = uniform(rng, std::max(0.0, 1 - o.contrast), 1 + o.contrast);
          x = blend(x, grayscale(x).mean().expand_as(x), factor);
        }
        break;
      case 2:
        if (o.saturation > 0) {
          const double factor = uniform(rng, std::max(0.0, 1 - o.saturation), 1 + o.saturation);
          x = blend(x, grayscale(x).expand_as(x), factor);
        }
        break;
      case 3:
        if (o.hue > 0) {
          const double shift = uniform(rng, -std::min(o.hue, 0.5), std::min(o.hue, 0.5));
          at::Tensor hsv = rgb_to_hsv(x);
          hsv[0] = at::fmod(hsv[0] + shift + 1.0, 1.0);
          x = hsv_to_rgb(hsv);
        }
        break;
    }
  }
  return x;
}

at::Tensor augment_for_classification(const at::Tensor& image, const ClassAugmentOptions& o,
                                      const Preprocess& preprocess, std::mt19937_64& rng) {
  const auto [top, left, h, w] = random_resized_crop_box(image.size(0), image.size(1), o, rng);
  at::Tensor crop = resize_image(image.slice(0, top, top + h).slice(1, left, left + w).contiguous(), o.size, o.size,
                                 preprocess.interpolation);
  if (o.hflip && coin(rng)) crop = crop.flip({1});
  if (o.vflip && coin(rng)) crop = crop.flip({0});
  const bool jitter = o.brightness > 0 || o.contrast > 0 || o.saturation > 0 || o.hue > 0;
  if (!jitter) return preprocess.normalize(crop.contiguous());
  at::Tensor rgb = color_jitter(crop.permute({2, 0, 1}).to(at::kFloat).div_(255.0), o, rng);
  // Back to 8 bits as a PIL image would be, then normalized like every other input.
  return preprocess.normalize(rgb.mul(255.0).round_().clamp_(0, 255).to(at::kByte).permute({1, 2, 0}).contiguous());
}

at::Tensor mix_batch(at::Tensor& images, const at::Tensor& labels, int64_t num_classes, const ClassAugmentOptions& o,
                     std::mt19937_64& rng) {
  at::Tensor target = at::one_hot(labels, num_classes).to(at::kFloat);
  const bool mixup = o.mixup_alpha > 0, cut = o.cutmix_alpha > 0;
  if ((!mixup && !cut) || images.size(0) < 2) return target;
  const bool use_cutmix = cut && (!mixup || coin(rng));
  const at::Tensor rolled_images = images.roll(1, 0);
  const at::Tensor rolled_target = target.roll(1, 0);
  double lambda = beta(rng, use_cutmix ? o.cutmix_alpha : o.mixup_alpha);
  if (!use_cutmix) {
    images = images * lambda + rolled_images * (1 - lambda);
  } else {
    const int64_t height = images.size(2), width = images.size(3);
    const double cut_ratio = std::sqrt(1 - lambda);
    const auto cut_h = static_cast<int64_t>(height * cut_ratio), cut_w = static_cast<int64_t>(width * cut_ratio);
    const int64_t cy = std::uniform_int_distribution<int64_t>(0, height - 1)(rng);
    const int64_t cx = std::uniform_int_distribution<int64_t>(0, width - 1)(rng);
    const int64_t y0 = std::clamp<int64_t>(cy - cut_h / 2, 0, height),
                  y1 = std::clamp<int64_t>(cy + cut_h / 2, 0, height);
    const int64_t x0 = std::clamp<int64_t>(cx - cut_w / 2, 0, width),
                  x1 = std::clamp<int64_t>(cx + cut_w / 2, 0, width);
    images = images.clone();
    images.slice(2, y0, y1).slice(3, x0, x1).copy_(rolled_images.slice(2, y0, y1).slice(3, x0, x1));
    lambda = 1.0 - static_cast<double>((y1 - y0) * (x1 - x0)) / static_cast<double>(height * width);
  }
  return target * lambda + rolled_target * (1 - lambda);
}

}  // namespace segkit
