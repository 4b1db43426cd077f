#include "segkit/models/backbones/backbone.h"

#include "segkit/core/errors.h"

namespace segkit {

void check_out_features(const std::vector<std::string>& requested, const std::map<std::string, ShapeSpec>& available,
                        const std::string& backbone) {
  for (const auto& name : requested) {
    if (available.count(name)) continue;
    std::string valid;
    for (const auto& [n, spec] : available) valid += (valid.empty() ? "" : ", ") + n;
    fail(backbone, " has no feature \"", name, "\" (valid: ", valid, ")");
  }
}

}  // namespace segkit
