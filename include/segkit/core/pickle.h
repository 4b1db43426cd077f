#pragma once

// A small pickle reader and writer for what PyTorch state dicts and segkit's
// own checkpoints contain: containers, scalars, strings, tensors (through
// persistent ids, as torch.save writes them) and OrderedDicts.

#include <ATen/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace segkit::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

enum class Kind { kNone, kBool, kInt, kFloat, kString, kBytes, kTuple, kList, kDict, kGlobal, kTensor, kObject };

/// One unpickled Python object. Containers share their children, as pickle's memo does.
struct Value {
  Kind kind = Kind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0.0;
  /// kString/kBytes: the contents; kGlobal: "module.name"; kObject: the callable's name.
  std::string text;
  /// kTuple/kList items; kObject: the arguments it was built from.
  std::vector<ValuePtr> items;
  /// kDict entries in insertion order.
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;
  at::Tensor tensor;

  Value() = default;
  Value(const Value&) = default;
  Value& operator=(const Value&) = default;
  /// Releases the children iteratively: a value nested 200,000 levels deep (a hostile
  /// pickle) must not overflow the stack as nested destructors would.
  ~Value();

  static ValuePtr none();
  static ValuePtr of_bool(bool v);
  static ValuePtr of_int(int64_t v);
  static ValuePtr of_float(double v);
  static ValuePtr of_string(std::string v);
  static ValuePtr of_tensor(at::Tensor v);
  static ValuePtr of_kind(Kind kind);

  /// For a dict: the value under a string key, or nullptr.
  ValuePtr get(const std::string& key) const;
  /// Appends (key, value) to a dict.
  void set(const std::string& key, ValuePtr value);
};

std::string kind_name(Kind kind);

/// Maps a persistent id (the tuple torch.save writes for each storage) to a value.
using PersistentLoad = std::function<ValuePtr(const ValuePtr& pid)>;
/// Registers a tensor's storage and returns its persistent id.
using PersistentSave = std::function<ValuePtr(const at::Tensor& tensor)>;

/// Reads one pickle from data[offset...]; on return, offset is just past its STOP.
/// Throws InputError naming `what` on malformed or truncated input.
ValuePtr unpickle(const char* data, size_t size, size_t& offset, const PersistentLoad& persistent_load,
                  const std::string& what);

/// Writes `value` as a protocol-2 pickle that Python's pickle (and torch.load) reads.
std::string pickle(const Value& value, const PersistentSave& persistent_save);

/// The storage class name torch.save uses for a dtype ("FloatStorage"), and back.
std::string storage_type_name(at::ScalarType dtype);
at::ScalarType storage_dtype(const std::string& storage_type, const std::string& what);

}  // namespace segkit::pickle
