#include "segkit/layers/aspp.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>

namespace segkit {

ASPPPoolingImpl::ASPPPoolingImpl(int64_t in_channels, int64_t out_channels) {
  conv_bn_ = ConvBn(*this, "1", "2", ConvSpec(in_channels, out_channels, 1));
}

at::Tensor ASPPPoolingImpl::forward(const at::Tensor& x) {
  const at::Tensor pooled = conv_bn_(x.mean({2, 3}, /*keepdim=*/true), Activation::kReLU);
  // Bilinear resize of a 1x1 map is a broadcast.
  return pooled.expand({-1, -1, x.size(2), x.size(3)});
}

ASPPImpl::ASPPImpl(int64_t in_channels, const std::vector<int64_t>& atrous_rates, int64_t out_channels) {
  auto convs = register_module("convs", torch::nn::ModuleList());
  branches_.push_back(ConvNormAct(ConvNormActOptions(in_channels, out_channels, 1)));
  for (int64_t rate : atrous_rates) {
    branches_.push_back(ConvNormAct(ConvNormActOptions(in_channels, out_channels, 3).dilation(rate)));
  }
  for (auto& branch : branches_) convs->push_back(branch);
  pooling_ = ASPPPooling(in_channels, out_channels);
  convs->push_back(pooling_);
  const int64_t concat_channels = out_channels * static_cast<int64_t>(branches_.size() + 1);
  auto project = register_module("project", torch::nn::Sequential());
  project_ = ConvBn(*project, "0", "1", ConvSpec(concat_channels, out_channels, 1));
}

at::Tensor ASPPImpl::forward(const at::Tensor& x) {
  std::vector<at::Tensor> outputs;
  outputs.reserve(branches_.size() + 1);
  for (auto& branch : branches_) outputs.push_back(branch->forward(x));
  outputs.push_back(pooling_->forward(x));
  at::Tensor out = project_(at::cat(outputs, 1), Activation::kReLU);
  return is_training() ? at::dropout(out, /*p=*/0.5, /*train=*/true) : out;
}

}  // namespace segkit
