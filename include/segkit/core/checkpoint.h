#pragma once

// Reading and writing checkpoint files: what torch.save writes (the zip format
// of PyTorch 1.6 and later, and the legacy format before it) and safetensors.

#include <ATen/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "segkit/core/pickle.h"

namespace segkit {

/// A state dict: parameter and buffer names to tensors, in file order.
using StateDict = std::vector<std::pair<std::string, at::Tensor>>;

enum class CheckpointFormat { kTorchZip, kTorchLegacy, kSafetensors };

/// Which format a file holds, judged by its first bytes; throws InputError if none.
CheckpointFormat detect_checkpoint_format(const std::string& path);

/// Reads any object torch.save wrote (either format), tensors included.
pickle::ValuePtr load_torch_file(const std::string& path);

/// Writes `value` in torch.save's zip format, atomically, so that torch.load reads it.
void save_torch_file(const pickle::Value& value, const std::string& path);

/// Reads a state dict from a torch.save file or a .safetensors file. A checkpoint
/// that wraps the state dict under "state_dict" or "model" is unwrapped.
StateDict load_state_dict(const std::string& path);

/// Writes a state dict: kTorchZip (torch.save's default) or kSafetensors, atomically.
/// `metadata` (text, usually JSON) is stored beside the tensors where readers of the format
/// ignore it: a "segkit.json" record in the zip (torch.load and load_state_dict see the plain
/// state dict), or safetensors' "__metadata__" under "segkit".
void save_state_dict(const StateDict& state, const std::string& path,
                     CheckpointFormat format = CheckpointFormat::kTorchZip, const std::string& metadata = "");

/// The metadata save_state_dict stored in `path`; empty for files that hold none (those
/// written by torch.save, any legacy-format file).
std::string load_checkpoint_metadata(const std::string& path);

/// Finds the state dict inside an unpickled checkpoint; throws naming `path` if there is none.
StateDict state_dict_from_value(const pickle::ValuePtr& value, const std::string& path);

/// The dict value a StateDict pickles as.
pickle::ValuePtr state_dict_to_value(const StateDict& state);

StateDict load_safetensors(const std::string& path);
void save_safetensors(const StateDict& state, const std::string& path, const std::string& metadata = "");
/// safetensors' "__metadata__" entry "segkit"; empty if absent.
std::string load_safetensors_metadata(const std::string& path);

}  // namespace segkit
