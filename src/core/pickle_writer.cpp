#include <ATen/ATen.h>

#include <cstring>

#include "segkit/core/errors.h"
#include "segkit/core/pickle.h"

namespace segkit::pickle {
namespace {

class Writer {
 public:
  explicit Writer(const PersistentSave& persistent_save) : persistent_save_(persistent_save) {}

  void write(const Value& v);
  std::string take() { return std::move(out_); }
  void op(char c) { out_.push_back(c); }

 private:
  template <typename T>
  void raw(T v) {
    char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));  // little-endian host
    out_.append(bytes, sizeof(T));
  }
  void global(const char* module, const char* name) {
    op('c');
    out_ += module;
    out_ += '\n';
    out_ += name;
    out_ += '\n';
  }
  void string(const std::string& s) {
    op('X');
    raw(static_cast<uint32_t>(s.size()));
    out_ += s;
  }
  void integer(int64_t i);
  void tensor(const at::Tensor& t);

  const PersistentSave& persistent_save_;
  std::string out_;
};

void Writer::integer(int64_t i) {
  if (i >= 0 && i < 256) {
    op('K');
    raw(static_cast<uint8_t>(i));
  } else if (i >= 0 && i < 65536) {
    op('M');
    raw(static_cast<uint16_t>(i));
  } else if (i >= INT32_MIN && i <= INT32_MAX) {
    op('J');
    raw(static_cast<int32_t>(i));
  } else {
    op('\x8a');
    raw(static_cast<uint8_t>(8));
    raw(i);
  }
}

void Writer::tensor(const at::Tensor& t) {
  // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())
  const at::Tensor c = t.contiguous();
  global("torch._utils", "_rebuild_tensor_v2");
  op('(');
  write(*persistent_save_(c));
  op('Q');
  integer(0);
  op('(');
  for (int64_t s : c.sizes()) integer(s);
  op('t');
  op('(');
  for (int64_t s : c.strides()) integer(s);
  op('t');
  op('\x89');
  global("collections", "OrderedDict");
  op(')');
  op('R');
  op('t');
  op('R');
}

void Writer::write(const Value& v) {
  switch (v.kind) {
    case Kind::kNone: op('N'); break;
    case Kind::kBool: op(v.boolean ? '\x88' : '\x89'); break;
    case Kind::kInt: integer(v.integer); break;
    case Kind::kFloat: {
      op('G');
      uint64_t bits;
      std::memcpy(&bits, &v.real, 8);
      for (int i = 7; i >= 0; --i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
      break;
    }
    case Kind::kString: string(v.text); break;
    case Kind::kBytes: {  // protocol 2 spells Python 3 bytes as _codecs.encode(latin1 text, 'latin1')
      global("_codecs", "encode");
      std::string latin1;
      for (unsigned char c : v.text) {
        if (c < 0x80) {
          latin1.push_back(static_cast<char>(c));
        } else {
          latin1.push_back(static_cast<char>(0xC0 | (c >> 6)));
          latin1.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        }
      }
      op('(');
      string(latin1);
      string("latin1");
      op('t');
      op('R');
      break;
    }
    case Kind::kTuple:
      op('(');
      for (const auto& item : v.items) write(*item);
      op('t');
      break;
    case Kind::kList:
      op(']');
      if (!v.items.empty()) {
        op('(');
        for (const auto& item : v.items) write(*item);
        op('e');
      }
      break;
    case Kind::kDict:
      global("collections", "OrderedDict");
      op(')');
      op('R');
      if (!v.entries.empty()) {
        op('(');
        for (const auto& [key, value] : v.entries) {
          write(*key);
          write(*value);
        }
        op('u');
      }
      break;
    case Kind::kGlobal: {
      const auto dot = v.text.rfind('.');
      global(v.text.substr(0, dot).c_str(), v.text.substr(dot + 1).c_str());
      break;
    }
    case Kind::kTensor: tensor(v.tensor); break;
    case Kind::kObject: fail("cannot pickle an opaque object (", v.text, ")");
  }
}

}  // namespace

std::string pickle(const Value& value, const PersistentSave& persistent_save) {
  Writer writer(persistent_save);
  writer.op('\x80');
  writer.op('\x02');
  writer.write(value);
  writer.op('.');
  return writer.take();
}

}  // namespace segkit::pickle
