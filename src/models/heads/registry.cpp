// The head registry: every head by the name zoo entries use.

#include "segkit/models/heads/classifier_head.h"
#include "segkit/models/heads/deeplab_head.h"
#include "segkit/models/heads/fcn_head.h"
#include "segkit/models/heads/head.h"
#include "segkit/models/heads/lraspp_head.h"

namespace segkit {
namespace {

template <typename Holder>
HeadBuilder builder() {
  return [](const HeadConfig& config, const ShapeMap& shapes) -> Head { return Holder(config, shapes).ptr(); };
}

}  // namespace

const Registry<HeadBuilder>& head_registry() {
  static const Registry<HeadBuilder> registry = [] {
    Registry<HeadBuilder> r("head");
    r.add("fcn", builder<FCNHead>());
    r.add("deeplabv3", builder<DeepLabHead>());
    r.add("lraspp", builder<LRASPPHead>());
    r.add("classifier", builder<ClassifierHead>());
    r.add("inception_aux", builder<InceptionAuxHead>());
    return r;
  }();
  return registry;
}

}  // namespace segkit
