#pragma once

#include <torch/nn/module.h>

#include <string>
#include <vector>

#include "segkit/core/checkpoint.h"

namespace segkit {

/// What a load left out. Strict loads throw instead of returning a non-empty report.
struct LoadReport {
  std::vector<std::string> missing;     ///< in the model, not in the checkpoint
  std::vector<std::string> unexpected;  ///< in the checkpoint, not in the model
  std::vector<std::string> mismatched;  ///< in both, with different shapes ("name: [a, b] vs [c, d]")
  bool empty() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  /// One line: "2 missing (a, b), 1 unexpected (c)".
  std::string summary() const;
};

/// Copies a state dict into a module's parameters and buffers, converting dtypes.
/// Strict: any missing or unexpected key or shape mismatch throws one InputError that
/// names them (after `source`) and nothing is changed. Non-strict: loads what fits.
/// Like PyTorch, BatchNorm's num_batches_tracked may be absent (files from before 0.4.1).
LoadReport load_state_dict_into(torch::nn::Module& module, const StateDict& state, bool strict,
                                const std::string& source);

/// The module's parameters and buffers under their full names.
StateDict module_state_dict(const torch::nn::Module& module);

}  // namespace segkit
