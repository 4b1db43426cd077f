#include <ATen/ATen.h>

#include "segkit/core/errors.h"
#include "segkit/core/pickle.h"

#include <vector>

namespace segkit::pickle {

namespace {

// Moves a value's children into `pending`, so that it dies without recursing into them.
void take_children(Value& v, std::vector<ValuePtr>& pending) {
  for (auto& child : v.items) {
    if (child) pending.push_back(std::move(child));
  }
  v.items.clear();
  for (auto& [key, value] : v.entries) {
    if (key) pending.push_back(std::move(key));
    if (value) pending.push_back(std::move(value));
  }
  v.entries.clear();
}

}  // namespace

Value::~Value() {
  if (items.empty() && entries.empty()) return;
  std::vector<ValuePtr> pending;
  take_children(*this, pending);
  while (!pending.empty()) {
    ValuePtr next = std::move(pending.back());
    pending.pop_back();
    // The last owner empties it first; otherwise another owner releases it later, the same way.
    if (next.use_count() == 1) take_children(*next, pending);
  }
}

ValuePtr Value::of_kind(Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}
ValuePtr Value::none() { return of_kind(Kind::kNone); }
ValuePtr Value::of_bool(bool b) {
  auto v = of_kind(Kind::kBool);
  v->boolean = b;
  return v;
}
ValuePtr Value::of_int(int64_t i) {
  auto v = of_kind(Kind::kInt);
  v->integer = i;
  return v;
}
ValuePtr Value::of_float(double d) {
  auto v = of_kind(Kind::kFloat);
  v->real = d;
  return v;
}
ValuePtr Value::of_string(std::string s) {
  auto v = of_kind(Kind::kString);
  v->text = std::move(s);
  return v;
}
ValuePtr Value::of_tensor(at::Tensor t) {
  auto v = of_kind(Kind::kTensor);
  v->tensor = std::move(t);
  return v;
}

ValuePtr Value::get(const std::string& key) const {
  for (const auto& [k, v] : entries) {
    if (k->kind == Kind::kString && k->text == key) return v;
  }
  return nullptr;
}

void Value::set(const std::string& key, ValuePtr value) { entries.emplace_back(of_string(key), std::move(value)); }

std::string kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kBytes: return "bytes";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kDict: return "dict";
    case Kind::kGlobal: return "global";
    case Kind::kTensor: return "tensor";
    case Kind::kObject: return "object";
  }
  return "?";
}

namespace {
struct StorageName {
  at::ScalarType dtype;
  const char* name;
};
constexpr StorageName kStorageNames[] = {
    {at::kFloat, "FloatStorage"},
    {at::kDouble, "DoubleStorage"},
    {at::kHalf, "HalfStorage"},
    {at::kBFloat16, "BFloat16Storage"},
    {at::kLong, "LongStorage"},
    {at::kInt, "IntStorage"},
    {at::kShort, "ShortStorage"},
    {at::kChar, "CharStorage"},
    {at::kByte, "ByteStorage"},
    {at::kBool, "BoolStorage"},
    {at::kComplexFloat, "ComplexFloatStorage"},
    {at::kComplexDouble, "ComplexDoubleStorage"},
};
}  // namespace

std::string storage_type_name(at::ScalarType dtype) {
  for (const auto& s : kStorageNames) {
    if (s.dtype == dtype) return s.name;
  }
  fail("cannot save tensors of dtype ", at::toString(dtype));
}

at::ScalarType storage_dtype(const std::string& storage_type, const std::string& what) {
  const std::string name = storage_type.substr(storage_type.rfind('.') + 1);
  for (const auto& s : kStorageNames) {
    if (name == s.name) return s.dtype;
  }
  if (name == "UntypedStorage") return at::kByte;
  fail(what, ": unsupported storage type ", storage_type);
}

}  // namespace segkit::pickle
