#include "segkit/data/preprocess.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "segkit/core/errors.h"

#include "segkit/io/image.h"

namespace segkit {

Preprocess Preprocess::gray() {
  Preprocess p;
  p.resize = 0;
  p.channels = 1;
  p.mean = {0.5, 0.5, 0.5};
  p.std = {0.5, 0.5, 0.5};
  return p;
}

Preprocess Preprocess::imagenet(int64_t resize, int64_t crop, Interpolation interpolation) {
  Preprocess p;
  p.resize = resize;
  p.crop = crop;
  p.interpolation = interpolation;
  return p;
}

std::string Preprocess::to_json() const {
  const nlohmann::json j{{"resize", resize},
                         {"crop", crop},
                         {"interpolation", interpolation == Interpolation::kBicubic ? "bicubic" : "bilinear"},
                         {"channels", channels},
                         {"mean", mean},
                         {"std", std}};
  return j.dump();
}

Preprocess Preprocess::from_json(const std::string& text, const std::string& source) {
  Preprocess p;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    p.resize = j.at("resize").get<int64_t>();
    p.crop = j.at("crop").get<int64_t>();
    p.interpolation =
        j.at("interpolation").get<std::string>() == "bicubic" ? Interpolation::kBicubic : Interpolation::kBilinear;
    p.channels = j.at("channels").get<int64_t>();
    p.mean = j.at("mean").get<std::array<double, 3>>();
    p.std = j.at("std").get<std::array<double, 3>>();
  } catch (const nlohmann::json::exception& e) {
    fail(source, ": malformed preprocessing record (", e.what(), ")");
  }
  return p;
}

std::pair<int64_t, int64_t> Preprocess::resized_size(int64_t height, int64_t width) const {
  if (resize <= 0) return {height, width};
  // torchvision's F.resize(img, [size]): the short side becomes size, the long side int(size * long / short).
  if (height <= width) return {resize, static_cast<int64_t>(static_cast<double>(resize) * width / height)};
  return {static_cast<int64_t>(static_cast<double>(resize) * height / width), resize};
}

std::pair<int64_t, int64_t> Preprocess::input_size(int64_t height, int64_t width) const {
  if (crop > 0) return {crop, crop};
  return resized_size(height, width);
}

namespace {

// torchvision's to_tensor then normalize, (v / 255 - mean) / std in float32, of an 8-bit RGB
// image (any strides) to 3 x H x W in one pass: a table of the 256 answers per channel,
// computed with the same float operations, so the same bits as the tensor expression.
at::Tensor normalize_rgb8(const at::Tensor& pixels, const std::array<double, 3>& mean,
                          const std::array<double, 3>& std) {
  std::array<std::array<float, 256>, 3> table;
  for (size_t c = 0; c < 3; ++c) {
    const float m = static_cast<float>(mean[c]), s = static_cast<float>(std[c]);
    for (int v = 0; v < 256; ++v) table[c][static_cast<size_t>(v)] = (static_cast<float>(v) / 255.f - m) / s;
  }
  const int64_t height = pixels.size(0), width = pixels.size(1);
  const int64_t sy = pixels.stride(0), sx = pixels.stride(1), sc = pixels.stride(2);
  at::Tensor out = at::empty({3, height, width}, at::kFloat);
  const uint8_t* src = pixels.data_ptr<uint8_t>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, height, 64, [&](int64_t begin, int64_t end) {
    for (int64_t c = 0; c < 3; ++c) {
      const float* t = table[static_cast<size_t>(c)].data();
      for (int64_t y = begin; y < end; ++y) {
        const uint8_t* row = src + y * sy + c * sc;
        float* o = dst + (c * height + y) * width;
        for (int64_t x = 0; x < width; ++x) o[x] = t[row[x * sx]];
      }
    }
  });
  return out;
}

}  // namespace

at::Tensor Preprocess::normalize(const at::Tensor& pixels) const {
  if (channels == 3 && pixels.dim() == 3 && pixels.size(2) == 3 && pixels.scalar_type() == at::kByte &&
      pixels.device().is_cpu()) {
    return normalize_rgb8(pixels, mean, std);
  }
  at::Tensor x = pixels.permute({2, 0, 1}).to(at::kFloat).div_(255.0);
  if (channels == 1) {
    const at::Tensor w = at::tensor({0.299, 0.587, 0.114}, at::kFloat).view({3, 1, 1});
    // Gray images have three equal channels: take one, so that they stay exact.
    const bool gray = pixels.select(2, 0).equal(pixels.select(2, 1)) && pixels.select(2, 0).equal(pixels.select(2, 2));
    x = gray ? x.slice(0, 0, 1).contiguous() : (x * w).sum(0, /*keepdim=*/true);
    return x.sub_(mean[0]).div_(std[0]);
  }
  const at::Tensor m = at::tensor({mean[0], mean[1], mean[2]}, at::kFloat).view({3, 1, 1});
  const at::Tensor s = at::tensor({std[0], std[1], std[2]}, at::kFloat).view({3, 1, 1});
  return (x - m).div_(s);
}

at::Tensor Preprocess::operator()(const at::Tensor& pixels) const {
  const auto [h, w] = resized_size(pixels.size(0), pixels.size(1));
  at::Tensor resized = resize_image(pixels, h, w, interpolation);
  if (crop > 0) resized = center_crop(resized, crop);
  return normalize(resized);
}

at::Tensor center_crop(const at::Tensor& pixels, int64_t size) {
  const int64_t height = pixels.size(0), width = pixels.size(1);
  at::Tensor x = pixels;
  if (height < size || width < size) {
    const int64_t pad_h = std::max<int64_t>(size - height, 0), pad_w = std::max<int64_t>(size - width, 0);
    at::Tensor padded = at::zeros({height + pad_h, width + pad_w, pixels.size(2)}, pixels.options());
    padded.slice(0, pad_h / 2, pad_h / 2 + height).slice(1, pad_w / 2, pad_w / 2 + width).copy_(pixels);
    x = padded;
  }
  const int64_t top = std::llround((x.size(0) - size) / 2.0);
  const int64_t left = std::llround((x.size(1) - size) / 2.0);
  return x.slice(0, top, top + size).slice(1, left, left + size).contiguous();
}

}  // namespace segkit
