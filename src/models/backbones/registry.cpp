// The backbone registry: every family adds its named variants here, explicitly (a
// static library would drop self-registering object files nobody references).

#include "segkit/models/backbones/backbone.h"
#include "segkit/models/backbones/densenet.h"
#include "segkit/models/backbones/efficientnet.h"
#include "segkit/models/backbones/googlenet.h"
#include "segkit/models/backbones/mobilenet_v2.h"
#include "segkit/models/backbones/mobilenet_v3.h"
#include "segkit/models/backbones/plain_convnet.h"
#include "segkit/models/backbones/resnet.h"

namespace segkit {

const Registry<BackboneBuilder>& backbone_registry() {
  static const Registry<BackboneBuilder> registry = [] {
    Registry<BackboneBuilder> r("backbone");
    add_plain_convnet_backbones(r);
    add_resnet_backbones(r);
    add_densenet_backbones(r);
    add_efficientnet_backbones(r);
    add_mobilenet_v2_backbones(r);
    add_mobilenet_v3_backbones(r);
    add_googlenet_backbones(r);
    return r;
  }();
  return registry;
}

}  // namespace segkit
