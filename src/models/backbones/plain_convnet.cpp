#include "segkit/models/backbones/plain_convnet.h"

#include <ATen/ATen.h>

#include "segkit/layers/conv_bn.h"

namespace segkit {
namespace {

/// One layer of the chain: a convolution (out_channels > 0) or a max pooling.
struct PlainLayer {
  int64_t out_channels = 0;  ///< 0: max pooling
  int64_t kernel = 3, stride = 1, padding = 1;
};

PlainLayer conv(int64_t out, int64_t kernel = 3, int64_t stride = 1, int64_t padding = 1) {
  return {out, kernel, stride, padding};
}
PlainLayer pool(int64_t kernel = 2) { return {0, kernel, 2, 0}; }

class PlainBackboneImpl : public BackboneImpl, public InferenceOptimizable {
 public:
  PlainBackboneImpl(std::string name, const std::vector<PlainLayer>& layers, bool batch_norm,
                    const BackboneOptions& options)
      : BackboneImpl(std::move(name)) {
    dilate_last_stages(options.output_stride(), 0, this->name());  // torchvision never dilates them
    convs_.reserve(layers.size());
    int64_t index = 0, channels = 3, stride = 1;
    for (const PlainLayer& layer : layers) {
      if (layer.out_channels == 0) {
        stride *= layer.stride;
        add_stage(std::to_string(index++),
                  [k = layer.kernel](const at::Tensor& x) {
                    return at::max_pool2d(x, {k, k}, {2, 2});
                  },
                  {channels, stride});
        continue;
      }
      const ConvSpec spec =
          ConvSpec(channels, layer.out_channels, layer.kernel).stride(layer.stride).padding(layer.padding).bias(true);
      const std::string conv_name = std::to_string(index++);
      stride *= layer.stride;
      convs_.emplace_back(*this, conv_name, batch_norm ? std::to_string(index++) : "", spec);
      ConvBn* conv_bn = &convs_.back();
      add_stage(std::to_string(index++), [conv_bn](const at::Tensor& x) { return (*conv_bn)(x, Activation::kReLU); },
                {layer.out_channels, stride});
      channels = layer.out_channels;
    }
  }

  void optimize_for_inference(const InferenceOptions& o) override {
    for (auto& c : convs_) c.fold(o);
  }

 private:
  std::vector<ConvBn> convs_;  // reserved up front: stages point into it
};
TORCH_MODULE(PlainBackbone);

std::vector<PlainLayer> vgg_layers(const std::vector<int64_t>& config) {
  std::vector<PlainLayer> layers;
  for (int64_t c : config) layers.push_back(c == 0 ? pool() : conv(c));
  return layers;
}

}  // namespace

void add_plain_convnet_backbones(Registry<BackboneBuilder>& registry) {
  const std::vector<PlainLayer> alexnet = {conv(64, 11, 4, 2), pool(3),   conv(192, 5, 1, 2), pool(3),
                                           conv(384),          conv(256), conv(256),          pool(3)};
  registry.add("alexnet", [alexnet](const BackboneOptions& o) {
    return PlainBackbone("alexnet", alexnet, /*batch_norm=*/false, o).ptr();
  });
  // torchvision's configurations A, B, D, E; 0 is a max pooling.
  const std::vector<std::pair<std::string, std::vector<int64_t>>> vggs = {
      {"vgg11", {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0}},
      {"vgg13", {64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0}},
      {"vgg16", {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0}},
      {"vgg19", {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0}},
  };
  for (const auto& [name, config] : vggs) {
    for (bool batch_norm : {false, true}) {
      const std::string full = name + (batch_norm ? "_bn" : "");
      registry.add(full, [full, layers = vgg_layers(config), batch_norm](const BackboneOptions& o) {
        return PlainBackbone(full, layers, batch_norm, o).ptr();
      });
    }
  }
}

}  // namespace segkit
