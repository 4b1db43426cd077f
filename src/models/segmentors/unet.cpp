#include "segkit/models/segmentors/unet.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/conv.h>

#include "segkit/core/errors.h"
#include "segkit/models/feature_tap.h"

namespace segkit {
namespace {

ConvSpec conv3x3(int64_t in, int64_t out, bool padding, bool bias) {
  return ConvSpec(in, out, 3).padding(padding ? 1 : 0).bias(bias);
}

// Center crop of an N x C x H x W map to height x width.
at::Tensor center_crop(const at::Tensor& x, int64_t height, int64_t width) {
  const int64_t top = (x.size(2) - height) / 2;
  const int64_t left = (x.size(3) - width) / 2;
  return x.slice(2, top, top + height).slice(3, left, left + width);
}

// Mirror padding on the bottom and right up to height x width (replicate where the image
// is too small to mirror). LibTorch 1.13 pads no bfloat16 on the CPU: such input is padded as
// float32 (exactly: the values are only copied).
at::Tensor pad_to(const at::Tensor& x, int64_t height, int64_t width) {
  const int64_t dh = height - x.size(2);
  const int64_t dw = width - x.size(3);
  if (dh == 0 && dw == 0) return x;
  if (x.scalar_type() == at::kBFloat16) return pad_to(x.to(at::kFloat), height, width).to(at::kBFloat16);
  if (dh < x.size(2) && dw < x.size(3)) return at::reflection_pad2d(x, {0, dw, 0, dh});
  return at::replication_pad2d(x, {0, dw, 0, dh});
}

}  // namespace

UNetBlockImpl::UNetBlockImpl(int64_t in_channels, int64_t out_channels, bool padding, bool batch_norm) {
  // Without BatchNorm the convolutions have biases, as in the paper.
  conv_bn1_ = ConvBn(*this, "conv1", batch_norm ? "bn1" : "", conv3x3(in_channels, out_channels, padding, !batch_norm));
  conv_bn2_ =
      ConvBn(*this, "conv2", batch_norm ? "bn2" : "", conv3x3(out_channels, out_channels, padding, !batch_norm));
}

at::Tensor UNetBlockImpl::forward(at::Tensor x) {
  return conv_bn2_(conv_bn1_(x, Activation::kReLU), Activation::kReLU);
}

void UNetBlockImpl::optimize_for_inference(const InferenceOptions& options) {
  conv_bn1_.fold(options);
  conv_bn2_.fold(options);
}

UNetImpl::UNetImpl(const UNetOptions& options_) : options(options_) {
  const auto& o = options;
  if (o.depth() < 1 || o.depth() > 8) fail("U-Net depth must be 1 to 8, got ", o.depth());
  if (o.base_width() < 1) fail("U-Net base width must be positive, got ", o.base_width());
  if (o.in_channels() < 1 || o.num_classes() < 1) fail("U-Net needs at least one input channel and one class");
  encoder_ = register_module("encoder", torch::nn::ModuleList());
  up_ = register_module("up", torch::nn::ModuleList());
  decoder_ = register_module("decoder", torch::nn::ModuleList());
  int64_t channels = o.in_channels();
  for (int64_t level = 0; level < o.depth(); ++level) {
    const int64_t width = o.base_width() << level;
    encoder_->push_back(UNetBlock(channels, width, o.padding(), o.batch_norm()));
    channels = width;
  }
  for (int64_t level = o.depth() - 2; level >= 0; --level) {
    const int64_t width = o.base_width() << level;
    if (o.upsampling() == Upsampling::kTransposed) {
      up_->push_back(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(channels, width, 2).stride(2)));
    } else {
      up_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, width, 3).padding(1)));
    }
    decoder_->push_back(UNetBlock(2 * width, width, o.padding(), o.batch_norm()));
    channels = width;
  }
  head_ = register_module("head", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, o.num_classes(), 1)));
}

std::optional<int64_t> UNetImpl::output_side(int64_t side) const {
  if (options.padding()) return side;
  for (int64_t level = 0; level < options.depth(); ++level) {
    side -= 4;
    if (side < 1) return std::nullopt;
    if (level + 1 < options.depth()) {
      if (side % 2 != 0) return std::nullopt;
      side /= 2;
    }
  }
  for (int64_t level = 0; level + 1 < options.depth(); ++level) {
    side = side * 2 - 4;
    if (side < 1) return std::nullopt;
  }
  return side;
}

int64_t UNetImpl::valid_input_size(int64_t side) const {
  side = std::max<int64_t>(side, 1);
  while (!output_side(side)) ++side;
  return side;
}

int64_t UNetImpl::border() const {
  if (options.padding()) return 0;
  const int64_t side = valid_input_size(1);
  return (side - *output_side(side)) / 2;
}

std::pair<int64_t, int64_t> UNetImpl::output_size(int64_t height, int64_t width) const {
  const auto h = output_side(height);
  const auto w = output_side(width);
  if (!h || !w) {
    fail("an unpadded U-Net of depth ", options.depth(), " cannot take a ", height, " x ", width,
         " input (feature maps would be odd or empty); the nearest valid sizes are ", valid_input_size(height), " x ",
         valid_input_size(width), ", or use --tile");
  }
  return {*h, *w};
}

at::Tensor UNetImpl::forward_valid(const at::Tensor& x) {
  std::vector<at::Tensor> skips;
  at::Tensor y = x;
  const int64_t depth = options.depth();
  for (int64_t level = 0; level < depth; ++level) {
    y = encoder_[level]->as<UNetBlockImpl>()->forward(y);
    tap("encoder." + std::to_string(level), y);
    if (level + 1 < depth) {
      skips.push_back(y);
      y = at::max_pool2d(y, {2, 2}, {2, 2});
    }
  }
  for (int64_t i = 0; i + 1 < depth; ++i) {
    if (options.upsampling() == Upsampling::kTransposed) {
      y = transposed_conv(*up_[i]->as<torch::nn::ConvTranspose2dImpl>(), y);
    } else {
      const std::vector<int64_t> size{y.size(2) * 2, y.size(3) * 2};
      y = options.upsampling() == Upsampling::kNearest ? at::upsample_nearest2d(y, size)
                                                       : at::upsample_bilinear2d(y, size, /*align_corners=*/false);
      y = up_[i]->as<torch::nn::Conv2dImpl>()->forward(y);
    }
    const at::Tensor& skip = skips[skips.size() - 1 - i];
    y = at::cat({center_crop(skip, y.size(2), y.size(3)), y}, 1);
    y = decoder_[i]->as<UNetBlockImpl>()->forward(y);
    tap("decoder." + std::to_string(i), y);
  }
  return head_->forward(y);
}

std::vector<std::string> UNetImpl::layer_names() const {
  std::vector<std::string> names;
  for (int64_t level = 0; level < options.depth(); ++level) names.push_back("encoder." + std::to_string(level));
  for (int64_t i = 0; i + 1 < options.depth(); ++i) names.push_back("decoder." + std::to_string(i));
  return names;
}

SemanticOutput UNetImpl::forward(const at::Tensor& x, bool /*with_aux*/) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_channels(), "expected an N x ", options.in_channels(),
              " x H x W batch, got ", x.sizes());
  SemanticOutput result;
  if (!options.padding()) {
    output_size(x.size(2), x.size(3));  // names the valid sizes if this one is not
    result.logits = forward_valid(x);
    return result;
  }
  const int64_t a = alignment();
  const int64_t height = (x.size(2) + a - 1) / a * a;
  const int64_t width = (x.size(3) + a - 1) / a * a;
  result.logits = forward_valid(pad_to(x, height, width)).slice(2, 0, x.size(2)).slice(3, 0, x.size(3));
  return result;
}

const char* upsampling_name(Upsampling upsampling) {
  switch (upsampling) {
    case Upsampling::kTransposed: return "transposed";
    case Upsampling::kNearest: return "nearest";
    case Upsampling::kBilinear: return "bilinear";
  }
  return "?";
}

Upsampling upsampling_from_name(const std::string& name, const std::string& what) {
  for (Upsampling u : {Upsampling::kTransposed, Upsampling::kNearest, Upsampling::kBilinear}) {
    if (name == upsampling_name(u)) return u;
  }
  fail(what, " must be transposed, nearest or bilinear, got \"", name, "\"");
}

UNetOptions unet_options_from_checkpoint(const StateDict& state, UNetOptions base) {
  int64_t depth = 0;
  bool batch_norm = false;
  for (const auto& [key, tensor] : state) {
    if (key == "encoder.0.conv1.weight" && tensor.dim() == 4)
      base.in_channels(tensor.size(1)).base_width(tensor.size(0));
    if (key.rfind("encoder.", 0) == 0 && key.size() > 8) {
      const size_t dot = key.find('.', 8);
      const std::string level = key.substr(8, dot == std::string::npos ? 0 : dot - 8);
      const bool number = !level.empty() && level.size() < 3 &&
                          std::all_of(level.begin(), level.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (number && key.substr(dot) == ".conv1.weight") depth = std::max<int64_t>(depth, std::stoll(level) + 1);
    }
    if (key == "encoder.0.bn1.weight") batch_norm = true;
    if (key == "up.0.weight" && tensor.dim() == 4) {
      const bool transposed = tensor.size(2) == 2;
      if (transposed) base.upsampling(Upsampling::kTransposed);
      if (!transposed && base.upsampling() == Upsampling::kTransposed) base.upsampling(Upsampling::kBilinear);
    }
  }
  if (depth > 0) base.depth(depth);
  return base.batch_norm(batch_norm);
}

}  // namespace segkit
