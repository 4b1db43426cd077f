// The classification entries: torchvision's ImageNet classifiers, with its module names,
// preprocessing (its IMAGENET1K_V1 weights') and parameter counts, and SE-ResNet-50.

#include "segkit/models/zoo.h"

namespace segkit {
namespace {

using Kind = ClassifierLayer::Kind;

ClassifierLayer linear(int64_t features = 0) { return {Kind::kLinear, features, 0}; }
ClassifierLayer relu() { return {Kind::kReLU, 0, 0}; }
ClassifierLayer hardswish() { return {Kind::kHardswish, 0, 0}; }
ClassifierLayer dropout(double p) { return {Kind::kDropout, 0, p}; }

/// A classifier head on `feature`: `layers` registered by index under `module`, or the one
/// Linear's weight and bias as `module` itself when `indexed` is false.
HeadSpec classifier_head(std::string module, std::string feature, std::vector<ClassifierLayer> layers,
                         bool indexed = true, int64_t pool_size = 1) {
  HeadConfig config;
  config.in_features = {std::move(feature)};
  config.layers = std::move(layers);
  config.indexed = indexed;
  config.pool_size = pool_size;
  return {std::move(module), "classifier", config};
}

ZooEntry classification_entry(std::string name, std::string summary, ComposedArchitecture architecture,
                              std::string classes_key, int64_t parameters,
                              Preprocess preprocess = Preprocess::imagenet()) {
  ZooEntry e;
  e.name = std::move(name);
  e.task = Task::kClassification;
  e.summary = std::move(summary);
  e.architecture = std::move(architecture);
  e.preprocess = preprocess;
  e.keys.classes = std::move(classes_key);
  e.num_classes = 1000;
  e.parameters = parameters;
  return e;
}

// AlexNet and VGG: 6x6 / 7x7 pooling, two hidden layers of 4096 with dropout 0.5.
ComposedArchitecture alexnet() {
  return {"alexnet",
          {},
          "features",
          classifier_head("classifier", "12",
                          {dropout(0.5), linear(4096), relu(), dropout(0.5), linear(4096), relu(), linear()}, true, 6),
          {}};
}

ComposedArchitecture vgg(const std::string& backbone, const std::string& last_pool) {
  return {backbone,
          {},
          "features",
          classifier_head("classifier", last_pool,
                          {linear(4096), relu(), dropout(0.5), linear(4096), relu(), dropout(0.5), linear()}, true, 7),
          {}};
}

ComposedArchitecture resnet(const std::string& backbone) {
  return {backbone, {}, "", classifier_head("fc", "layer4", {linear()}, /*indexed=*/false), {}};
}

ComposedArchitecture densenet(const std::string& backbone) {
  ComposedArchitecture a{backbone, {}, "features", classifier_head("classifier", "norm5", {linear()}, false), {}};
  a.head.config.pre_activation = Activation::kReLU;
  return a;
}

ComposedArchitecture efficientnet(int b, double dropout_p) {
  return {"efficientnet_b" + std::to_string(b),
          {},
          "features",
          classifier_head("classifier", "8", {dropout(dropout_p), linear()}),
          {}};
}

ComposedArchitecture googlenet() {
  HeadConfig aux1, aux2;
  aux1.in_features = {"inception4a"};
  aux2.in_features = {"inception4d"};
  return {"googlenet",
          {},
          "",
          classifier_head("fc", "inception5b", {dropout(0.2), linear()}, false),
          {{"aux1", "inception_aux", aux1}, {"aux2", "inception_aux", aux2}}};
}

// torchvision's _load_state_dict for DenseNet: the published files spell
// "denselayer1.norm1" as "denselayer1.norm.1" (and so for relu and conv).
const std::pair<std::string, std::string> kDenseNetOldKeys{
    R"(^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$)", "$1$2"};

}  // namespace

void add_classification_entries(Registry<ZooEntry>& zoo) {
  const auto add = [&](ZooEntry entry) {
    const std::string name = entry.name;
    zoo.add(name, std::move(entry));
  };
  add(classification_entry("alexnet", "AlexNet (Krizhevsky et al. 2012)", alexnet(), "classifier.6.weight", 61100840));
  const std::vector<std::tuple<std::string, std::string, std::string, int64_t, int64_t>> vggs = {
      {"vgg11", "20", "28", 132863336, 132868840},
      {"vgg13", "24", "34", 133047848, 133053736},
      {"vgg16", "30", "43", 138357544, 138365992},
      {"vgg19", "36", "52", 143667240, 143678248},
  };
  for (const auto& [name, pool, pool_bn, params, params_bn] : vggs) {
    const std::string layers = name.substr(3);
    add(classification_entry(name, "VGG-" + layers + " (Simonyan and Zisserman 2015)", vgg(name, pool),
                             "classifier.6.weight", params));
    add(classification_entry(name + "_bn", "VGG-" + layers + " with BatchNorm", vgg(name + "_bn", pool_bn),
                             "classifier.6.weight", params_bn));
  }
  const std::vector<std::tuple<std::string, std::string, int64_t>> resnets = {
      {"resnet18", "ResNet-18 (He et al. 2016), BasicBlock", 11689512},
      {"resnet34", "ResNet-34, BasicBlock", 21797672},
      {"resnet50", "ResNet-50, Bottleneck", 25557032},
      {"resnet101", "ResNet-101, Bottleneck", 44549160},
      {"resnet152", "ResNet-152, Bottleneck", 60192808},
      {"resnext50_32x4d", "ResNeXt-50 32x4d (Xie et al. 2017): grouped 3x3 convolutions", 25028904},
      {"wide_resnet50_2", "Wide ResNet-50-2 (Zagoruyko and Komodakis 2016): 3x3 convolutions twice as wide", 68883240},
      {"se_resnet50", "SE-ResNet-50 (Hu et al. 2018): squeeze-and-excitation in every block, reduction 16", 28088024},
  };
  for (const auto& [name, summary, params] : resnets) {
    add(classification_entry(name, summary, resnet(name), "fc.weight", params));
  }
  const std::vector<std::tuple<std::string, std::string, int64_t>> densenets = {
      {"densenet121", "DenseNet-121 (Huang et al. 2017), growth 32", 7978856},
      {"densenet161", "DenseNet-161, growth 48", 28681000},
      {"densenet169", "DenseNet-169, growth 32", 14149480},
      {"densenet201", "DenseNet-201, growth 32", 20013928},
  };
  for (const auto& [name, summary, params] : densenets) {
    ZooEntry e = classification_entry(name, summary, densenet(name), "classifier.weight", params);
    e.keys.renames = {kDenseNetOldKeys};
    add(std::move(e));
  }
  // torchvision's B0-B7: classifier dropout, (IMAGENET1K_V1) resize and crop, bicubic.
  const std::vector<std::tuple<double, int64_t, int64_t, int64_t>> efficientnets = {
      {0.2, 256, 224, 5288548},  {0.2, 256, 240, 7794184},  {0.3, 288, 288, 9109994},  {0.3, 320, 300, 12233232},
      {0.4, 384, 380, 19341616}, {0.4, 456, 456, 30389784}, {0.5, 528, 528, 43040704}, {0.5, 600, 600, 66347960}};
  for (size_t b = 0; b < efficientnets.size(); ++b) {
    const auto& [p, resize, crop, params] = efficientnets[b];
    add(classification_entry("efficientnet_b" + std::to_string(b),
                             "EfficientNet-B" + std::to_string(b) + " (Tan and Le 2019), stochastic depth 0.2",
                             efficientnet(static_cast<int>(b), p), "classifier.1.weight", params,
                             Preprocess::imagenet(resize, crop, Interpolation::kBicubic)));
  }
  add(classification_entry(
      "mobilenet_v2", "MobileNetV2 (Sandler et al. 2018)",
      {"mobilenet_v2", {}, "features", classifier_head("classifier", "18", {dropout(0.2), linear()}), {}},
      "classifier.1.weight", 3504872));
  add(classification_entry("mobilenet_v3_large", "MobileNetV3-Large (Howard et al. 2019)",
                           {"mobilenet_v3_large",
                            {},
                            "features",
                            classifier_head("classifier", "16", {linear(1280), hardswish(), dropout(0.2), linear()}),
                            {}},
                           "classifier.3.weight", 5483032));
  add(classification_entry("mobilenet_v3_small", "MobileNetV3-Small",
                           {"mobilenet_v3_small",
                            {},
                            "features",
                            classifier_head("classifier", "12", {linear(1024), hardswish(), dropout(0.2), linear()}),
                            {}},
                           "classifier.3.weight", 2542856));
  ZooEntry inception = classification_entry(
      "googlenet", "GoogLeNet (Inception v1, Szegedy et al. 2015), two aux classifiers in training", googlenet(),
      "fc.weight", 6624904);
  inception.aux_weight = 0.3;  // the paper's
  add(std::move(inception));
}

}  // namespace segkit
