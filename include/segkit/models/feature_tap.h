#pragma once

// What LibTorch lacks and Grad-CAM needs: forward hooks. Models call tap() with the
// output of every named stage; while a FeatureTap lives on the calling thread, the
// stage it names is recorded (the tensor itself, part of the autograd graph).

#include <ATen/Tensor.h>

#include <string>

namespace segkit {

class FeatureTap {
 public:
  /// Records the output of the stage named `layer` on this thread until destroyed.
  explicit FeatureTap(std::string layer);
  ~FeatureTap();
  FeatureTap(const FeatureTap&) = delete;
  FeatureTap& operator=(const FeatureTap&) = delete;

  const std::string& layer() const { return layer_; }
  /// The recorded output; undefined if no stage of that name ran.
  const at::Tensor& captured() const { return captured_; }

 private:
  friend void tap(const std::string& name, const at::Tensor& x);
  std::string layer_;
  at::Tensor captured_;
  FeatureTap* previous_;
};

/// Models call this with each named stage's output; a no-op unless a FeatureTap asks for `name`.
void tap(const std::string& name, const at::Tensor& x);

}  // namespace segkit
