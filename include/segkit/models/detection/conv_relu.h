#pragma once

// torchvision's Conv2dNormActivation without a norm, as the RPN head and the mask head use it:
// a conv with bias (module "0") then a ReLU, so weights are named "<block>.0.weight".

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>

namespace segkit {

class ConvReLUImpl : public torch::nn::Module {
 public:
  explicit ConvReLUImpl(torch::nn::Conv2d conv) : conv_(register_module("0", std::move(conv))) {}
  at::Tensor forward(const at::Tensor& x) { return conv_->forward(x).relu_(); }

 private:
  torch::nn::Conv2d conv_;
};
TORCH_MODULE(ConvReLU);

}  // namespace segkit
