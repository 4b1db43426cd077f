#include "segkit/data/augment.h"

#include <ATen/ATen.h>

#include <cmath>

namespace segkit {
namespace {

constexpr double kPi = 3.14159265358979323846;

double uniform(std::mt19937_64& rng, double low, double high) {
  return low == high ? low : std::uniform_real_distribution<double>(low, high)(rng);
}

bool coin(std::mt19937_64& rng, double p = 0.5) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

// 2 x 2 matrix as {a, b, c, d} = [[a, b], [c, d]] acting on (x, y).
struct Mat2 {
  double a = 1, b = 0, c = 0, d = 1;
  Mat2 operator*(const Mat2& o) const {
    return {a * o.a + b * o.c, a * o.b + b * o.d, c * o.a + d * o.c, c * o.b + d * o.d};
  }
};

Mat2 rotation(double radians) { return {std::cos(radians), -std::sin(radians), std::sin(radians), std::cos(radians)}; }

// A center in [half, size - half] when the crop fits, the image's middle otherwise.
double random_center(std::mt19937_64& rng, int64_t size, int64_t crop) {
  const double half = crop / 2.0;
  if (size <= crop) return (size - 1) / 2.0;
  return uniform(rng, half - 0.5, size - half - 0.5);
}

}  // namespace

TrainingSample augment(const at::Tensor& image, const at::Tensor& mask, const at::Tensor& weight,
                       const AugmentOptions& o, const Preprocess& preprocess, std::mt19937_64& rng) {
  const int64_t height = image.size(0);
  const int64_t width = image.size(1);
  const int64_t out_h = o.crop > 0 ? o.crop : height;
  const int64_t out_w = o.crop > 0 ? o.crop : width;

  // The source point of output pixel p (relative to the output's center) is A (p + d(p)) + c.
  Mat2 a;
  if (o.hflip && coin(rng)) a = a * Mat2{-1, 0, 0, 1};
  if (o.vflip && coin(rng)) a = a * Mat2{1, 0, 0, -1};
  if (o.rot90) a = rotation(kPi / 2 * std::uniform_int_distribution<int>(0, 3)(rng)) * a;
  const double scale = std::exp(uniform(rng, std::log(o.scale_min), std::log(o.scale_max)));
  a = Mat2{1 / scale, 0, 0, 1 / scale} * a;
  if (o.shear > 0) a = Mat2{1, std::tan(uniform(rng, -o.shear, o.shear) * kPi / 180), 0, 1} * a;
  if (o.rotate > 0) a = rotation(uniform(rng, -o.rotate, o.rotate) * kPi / 180) * a;
  const double cx = random_center(rng, width, out_w);
  const double cy = random_center(rng, height, out_h);

  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor ys = at::arange(out_h, f32).sub_((out_h - 1) / 2.0).view({out_h, 1}).expand({out_h, out_w});
  at::Tensor xs = at::arange(out_w, f32).sub_((out_w - 1) / 2.0).view({1, out_w}).expand({out_h, out_w});
  if (o.elastic_sigma > 0) {
    const int64_t g = std::max<int64_t>(o.elastic_grid, 2);
    std::normal_distribution<float> normal(0.0f, static_cast<float>(o.elastic_sigma));
    std::vector<float> coarse(2 * g * g);
    for (float& v : coarse) v = normal(rng);
    const at::Tensor field = at::upsample_bicubic2d(at::tensor(coarse, f32).view({1, 2, g, g}), {out_h, out_w},
                                                    /*align_corners=*/true)[0];
    xs = xs + field[0];
    ys = ys + field[1];
  }
  const at::Tensor src_x = xs * a.a + ys * a.b + cx;
  const at::Tensor src_y = xs * a.c + ys * a.d + cy;
  // grid_sample's coordinates, align_corners=false: -1 and 1 are the outer pixel edges.
  const at::Tensor grid =
      at::stack({src_x.mul(2.0 / width).add_(1.0 / width - 1), src_y.mul(2.0 / height).add_(1.0 / height - 1)}, 2)
          .unsqueeze(0);
  constexpr int64_t kBilinear = 0, kNearest = 1, kReflection = 2;

  TrainingSample sample;
  at::Tensor x = preprocess.normalize(image).unsqueeze(0);
  sample.image = at::grid_sampler_2d(x, grid, kBilinear, kReflection, /*align_corners=*/false)[0];
  if (o.brightness > 0 || o.contrast > 0) {
    // In [0, 1] units: (v - 0.5) * contrast + 0.5 + brightness, applied to the normalized values.
    const double contrast = 1 + uniform(rng, -o.contrast, o.contrast);
    const double brightness = uniform(rng, -o.brightness, o.brightness);
    for (int64_t c = 0; c < sample.image.size(0); ++c) {
      const double m = preprocess.mean[static_cast<size_t>(c)], s = preprocess.std[static_cast<size_t>(c)];
      at::Tensor ch = sample.image[c];
      ch.mul_(s).add_(m - 0.5).mul_(contrast).add_(0.5 + brightness - m).div_(s);
    }
  }
  const at::Tensor m = mask.to(at::kFloat).view({1, 1, height, width});
  sample.mask = at::grid_sampler_2d(m, grid, kNearest, kReflection, false)[0][0].round().to(at::kLong);
  if (weight.defined()) {
    sample.weight = at::grid_sampler_2d(weight.view({1, 1, height, width}), grid, kBilinear, kReflection, false)[0][0];
  }
  const int64_t b = o.target_border;
  if (b > 0) {
    sample.mask = sample.mask.slice(0, b, out_h - b).slice(1, b, out_w - b).contiguous();
    if (sample.weight.defined())
      sample.weight = sample.weight.slice(0, b, out_h - b).slice(1, b, out_w - b).contiguous();
  }
  return sample;
}

void cutmix(std::vector<TrainingSample>& batch, double probability, int64_t border, std::mt19937_64& rng) {
  if (batch.size() < 2 || probability <= 0) return;
  std::vector<TrainingSample> original;
  for (const auto& s : batch) {
    original.push_back({s.image.clone(), s.mask.clone(), s.weight.defined() ? s.weight.clone() : at::Tensor()});
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!coin(rng, probability)) continue;
    const TrainingSample& other = original[(i + 1) % batch.size()];
    const int64_t h = batch[i].image.size(1), w = batch[i].image.size(2);
    const double cut = std::sqrt(uniform(rng, 0.0, 1.0));
    const int64_t bh = static_cast<int64_t>(h * cut), bw = static_cast<int64_t>(w * cut);
    const int64_t y0 = std::uniform_int_distribution<int64_t>(0, h - bh)(rng);
    const int64_t x0 = std::uniform_int_distribution<int64_t>(0, w - bw)(rng);
    batch[i]
        .image.slice(1, y0, y0 + bh)
        .slice(2, x0, x0 + bw)
        .copy_(other.image.slice(1, y0, y0 + bh).slice(2, x0, x0 + bw));
    // The same box in the (smaller, by `border`) target's coordinates.
    const int64_t th = batch[i].mask.size(0), tw = batch[i].mask.size(1);
    const int64_t ty0 = std::clamp<int64_t>(y0 - border, 0, th), ty1 = std::clamp<int64_t>(y0 + bh - border, 0, th);
    const int64_t tx0 = std::clamp<int64_t>(x0 - border, 0, tw), tx1 = std::clamp<int64_t>(x0 + bw - border, 0, tw);
    batch[i].mask.slice(0, ty0, ty1).slice(1, tx0, tx1).copy_(other.mask.slice(0, ty0, ty1).slice(1, tx0, tx1));
    if (batch[i].weight.defined()) {
      batch[i].weight.slice(0, ty0, ty1).slice(1, tx0, tx1).copy_(other.weight.slice(0, ty0, ty1).slice(1, tx0, tx1));
    }
  }
}

}  // namespace segkit
