#pragma once

// Reference tensors saved by the tools (torchvision's outputs, their inputs and parameters) as
// one flat dict per file, looked up by name; and a comparison that says where it failed.

#include <map>
#include <string>

#include "segkit/core/checkpoint.h"
#include "test_util.h"

namespace segkit::testing {

class ReferenceTensors {
 public:
  /// `relative`: the file under the fixture folder, e.g. "ops/nms.pth".
  explicit ReferenceTensors(const std::string& relative) {
    for (auto& [name, tensor] : load_state_dict(fixture(relative))) tensors_[name] = tensor;
    file_ = relative;
  }
  bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  const at::Tensor& operator[](const std::string& name) const {
    const auto found = tensors_.find(name);
    if (found == tensors_.end()) throw std::runtime_error("no reference tensor " + name + " in " + file_);
    return found->second;
  }

 private:
  std::map<std::string, at::Tensor> tensors_;
  std::string file_;
};

/// Whether two tensors agree within `tolerance` (absolute, NaN equal to NaN), and if not where.
inline ::testing::AssertionResult near(const at::Tensor& actual, const at::Tensor& expected, double tolerance) {
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " vs " << expected.sizes();
  }
  if (actual.numel() == 0) return ::testing::AssertionSuccess();
  const at::Tensor a = actual.to(at::kDouble), e = expected.to(at::kDouble);
  const at::Tensor both_nan = a.isnan().logical_and(e.isnan());
  const at::Tensor error = at::where(both_nan, at::zeros_like(a), (a - e).abs().nan_to_num(1e30));
  const double worst = error.max().item<double>();
  if (worst <= tolerance) return ::testing::AssertionSuccess();
  const int64_t at_index = error.argmax().item<int64_t>();
  return ::testing::AssertionFailure() << "largest difference " << worst << " at flat index " << at_index << ": "
                                       << a.reshape(-1)[at_index].item<double>() << " vs "
                                       << e.reshape(-1)[at_index].item<double>();
}

}  // namespace segkit::testing
