#include <ATen/ATen.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "segkit/core/errors.h"
#include "segkit/core/pickle.h"

namespace segkit::pickle {
namespace {

// A reader over one pickle stream. Only the opcodes that plain data needs are
// supported; anything else is reported with its byte offset.
class Reader {
 public:
  Reader(const char* data, size_t size, size_t offset, const PersistentLoad& persistent_load, const std::string& what)
      : data_(data), size_(size), pos_(offset), persistent_load_(persistent_load), what_(what) {}

  ValuePtr run();
  size_t position() const { return pos_; }

 private:
  [[noreturn]] void bad(const std::string& problem) const {
    fail(what_, ": corrupt pickle (", problem, " at byte ", pos_, ")");
  }
  const char* take(size_t n) {
    if (n > size_ - pos_) fail(what_, ": file is truncated (pickle ends at byte ", size_, ")");
    const char* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  template <typename T>
  T read_le() {
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));  // x86-64 and aarch64 are little-endian
    return v;
  }
  std::string read_line() {
    const char* start = data_ + pos_;
    const void* nl = std::memchr(start, '\n', size_ - pos_);
    if (nl == nullptr) fail(what_, ": file is truncated (unterminated pickle line)");
    const size_t n = static_cast<const char*>(nl) - start;
    pos_ += n + 1;
    return std::string(start, n);
  }
  ValuePtr pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) bad("stack underflow");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.empty()) bad("stack underflow");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) bad("no mark");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(std::make_move_iterator(stack_.begin() + mark), std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return items;
  }
  ValuePtr memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) bad("unknown memo key");
    return it->second;
  }
  // A container, remembered so that a failed or cyclic pickle's values can be released
  // (a memo lets a hostile pickle put a list inside itself: a reference cycle).
  ValuePtr make(Kind kind) {
    auto v = Value::of_kind(kind);
    containers_.push_back(v);
    return v;
  }
  void release_containers() {
    for (const auto& v : containers_) {
      v->items.clear();
      v->entries.clear();
    }
  }
  ValuePtr make_tuple(std::vector<ValuePtr> items) {
    auto v = make(Kind::kTuple);
    v->items = std::move(items);
    return v;
  }
  ValuePtr make_global(const std::string& module, const std::string& name) {
    auto v = Value::of_kind(Kind::kGlobal);
    v->text = module + "." + name;
    return v;
  }
  uint64_t read_decimal_line() {
    const std::string line = read_line();
    char* end = nullptr;
    errno = 0;
    const uint64_t v = std::strtoull(line.c_str(), &end, 10);
    if (line.empty() || *end != '\0' || errno == ERANGE) bad("bad memo key");
    return v;
  }
  // The key of the dict entry whose tensor is being built (state dicts pickle the key, then
  // the _rebuild_tensor call), to name the tensor in errors; empty if there is none.
  std::string tensor_key() const {
    auto is_rebuild = [](const ValuePtr& v) {
      return v->kind == Kind::kGlobal && v->text.rfind("torch._utils._rebuild", 0) == 0;
    };
    size_t i = stack_.size();
    if (!reducing_ || !is_rebuild(reducing_)) {  // reading the arguments: the call is on the stack
      while (i > 0 && !is_rebuild(stack_[i - 1])) --i;
      if (i == 0) return "";
      --i;
    }
    while (i > 0 && is_rebuild(stack_[i - 1])) --i;  // _rebuild_parameter(_rebuild_tensor_v2(...))
    return i > 0 && stack_[i - 1]->kind == Kind::kString ? shorten(stack_[i - 1]->text, 200) : "";
  }
  // "tensor conv1.weight", or "a tensor" when its key is unknown.
  std::string tensor_name() const {
    const std::string key = tensor_key();
    return key.empty() ? "a tensor" : "tensor " + key;
  }
  std::vector<int64_t> int_list(const ValuePtr& v, const char* what);
  void set_items(Value& dict, std::vector<ValuePtr>& kv);
  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args);
  ValuePtr rebuild_tensor(const std::vector<ValuePtr>& args, bool has_requires_grad);

  const char* data_;
  size_t size_;
  size_t pos_;
  const PersistentLoad& persistent_load_;
  const std::string& what_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  std::vector<ValuePtr> containers_;
  ValuePtr reducing_;  // the callable of the REDUCE in progress

 public:
  ~Reader() {
    if (!succeeded_) release_containers();
  }
  bool succeeded_ = false;
  bool has_cycle() const;
};

// Whether any container reaches itself: depth-first from each, with an explicit stack (a
// value may be nested 200,000 levels deep) and marks shared between the searches.
bool Reader::has_cycle() const {
  enum Mark { kOpen = 1, kDone = 2 };
  std::unordered_map<const Value*, int> marks;
  for (const auto& root : containers_) {
    if (marks[root.get()] != 0) continue;
    std::vector<std::pair<const Value*, size_t>> path{{root.get(), 0}};
    marks[root.get()] = kOpen;
    while (!path.empty()) {
      const Value* value = path.back().first;
      const size_t i = path.back().second++;
      const size_t n_items = value->items.size();
      if (i == n_items + 2 * value->entries.size()) {
        marks[value] = kDone;
        path.pop_back();
        continue;
      }
      const Value* child = i < n_items              ? value->items[i].get()
                           : (i - n_items) % 2 == 0 ? value->entries[(i - n_items) / 2].first.get()
                                                    : value->entries[(i - n_items) / 2].second.get();
      int& mark = marks[child];
      if (mark == kOpen) return true;
      if (mark == 0) {
        mark = kOpen;
        path.emplace_back(child, 0);
      }
    }
  }
  return false;
}

std::vector<int64_t> Reader::int_list(const ValuePtr& v, const char* what) {
  if (v->kind != Kind::kTuple && v->kind != Kind::kList) {
    fail(what_, ": corrupt record of ", tensor_name(), " (its ", what, " are not a tuple of integers)");
  }
  std::vector<int64_t> out;
  for (const auto& item : v->items) {
    if (item->kind != Kind::kInt) {
      fail(what_, ": corrupt record of ", tensor_name(), " (its ", what, " are not a tuple of integers)");
    }
    if (!item->text.empty()) {  // wider than 64 bits
      fail(what_, ": ", tensor_name(), " has ", what, " too large for 64 bits");
    }
    out.push_back(item->integer);
  }
  return out;
}

void Reader::set_items(Value& dict, std::vector<ValuePtr>& kv) {
  if (kv.size() % 2 != 0) bad("odd number of dict items");
  if (dict.kind == Kind::kObject) return;  // attributes of an opaque object: not needed
  if (dict.kind != Kind::kDict) bad("SETITEMS on a " + kind_name(dict.kind));
  for (size_t i = 0; i < kv.size(); i += 2) dict.entries.emplace_back(std::move(kv[i]), std::move(kv[i + 1]));
}

ValuePtr Reader::rebuild_tensor(const std::vector<ValuePtr>& args, bool has_requires_grad) {
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (args.size() < (has_requires_grad ? 5u : 4u)) bad("too few arguments to rebuild a tensor");
  const ValuePtr& storage = args[0];
  if (storage->kind != Kind::kTensor || args[1]->kind != Kind::kInt) bad("tensor record without a storage");
  if (!args[1]->text.empty()) fail(what_, ": ", tensor_name(), " has a storage offset too large for 64 bits");
  const auto sizes = int_list(args[2], "sizes");
  const auto strides = int_list(args[3], "strides");
  if (sizes.size() != strides.size()) bad("tensor sizes and strides differ in length");
  const int64_t offset = args[1]->integer;
  // The last element's index, checked for overflow: sizes and strides come from the file.
  int64_t last = offset;
  bool empty = false;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] < 0 || strides[d] < 0) {
      fail(what_, ": ", tensor_name(), " has a negative size or stride (", sizes[d], ", ", strides[d], ")");
    }
    int64_t step = 0;
    if (sizes[d] == 0) empty = true;
    if (!empty &&
        (__builtin_mul_overflow(sizes[d] - 1, strides[d], &step) || __builtin_add_overflow(last, step, &last))) {
      fail(what_, ": ", tensor_name(), " has sizes and strides too large for 64 bits");
    }
  }
  int64_t numel = 1;
  for (int64_t s : sizes) {
    if (__builtin_mul_overflow(numel, s, &numel)) {
      fail(what_, ": ", tensor_name(), " has more elements than 64 bits can count");
    }
  }
  if (offset < 0 || (!empty && last >= storage->tensor.numel())) {
    fail(what_, ": ", tensor_name(), " reaches past the end of its storage (element ", last, " of ",
         storage->tensor.numel(), "; the file is corrupt or truncated)");
  }
  return Value::of_tensor(storage->tensor.as_strided(sizes, strides, offset));
}

ValuePtr Reader::reduce(const ValuePtr& callable, const ValuePtr& args) {
  if (callable->kind != Kind::kGlobal) bad("REDUCE on a " + kind_name(callable->kind));
  if (args->kind != Kind::kTuple) bad("REDUCE without an argument tuple");
  const std::string& name = callable->text;
  const auto& a = args->items;
  if (name == "collections.OrderedDict" || name == "builtins.dict" || name == "__builtin__.dict") {
    auto dict = make(Kind::kDict);
    if (!a.empty() && a[0]->kind == Kind::kList) {  // OrderedDict([(k, v), ...])
      for (const auto& pair : a[0]->items) {
        if (pair->items.size() != 2) bad("OrderedDict item is not a pair");
        dict->entries.emplace_back(pair->items[0], pair->items[1]);
      }
    }
    return dict;
  }
  if (name == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(a, true);
  if (name == "torch._utils._rebuild_tensor") return rebuild_tensor(a, false);
  if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
    if (a.empty() || a[0]->kind != Kind::kTensor) bad("parameter without data");
    return a[0];
  }
  if (name == "_codecs.encode" && a.size() == 2 && a[0]->kind == Kind::kString) {  // Python 3 bytes, protocol 2
    auto bytes = Value::of_kind(Kind::kBytes);
    std::string out;
    // latin1: code points below 256 map to one byte each; the source is UTF-8.
    const auto& s = a[0]->text;
    for (size_t i = 0; i < s.size(); ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0xC0 && i + 1 < s.size()) {
        out.push_back(static_cast<char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(s[++i]) & 0x3F)));
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    bytes->text = std::move(out);
    return bytes;
  }
  if (name == "torch.Size" || name == "builtins.tuple") return a.empty() ? make_tuple({}) : a[0];
  auto object = make(Kind::kObject);
  object->text = name;
  object->items = a;
  return object;
}

ValuePtr Reader::run() {
  while (true) {
    const auto op = static_cast<unsigned char>(*take(1));
    switch (op) {
      case 0x80: take(1); break;  // PROTO
      case 0x95: take(8); break;  // FRAME
      case '.': return pop();     // STOP
      case '(': marks_.push_back(stack_.size()); break;
      case '0': pop(); break;
      case '1': pop_mark(); break;
      case '2': stack_.push_back(top()); break;
      case 'N': stack_.push_back(Value::none()); break;
      case 0x88: stack_.push_back(Value::of_bool(true)); break;
      case 0x89: stack_.push_back(Value::of_bool(false)); break;
      case 'J': stack_.push_back(Value::of_int(read_le<int32_t>())); break;
      case 'K': stack_.push_back(Value::of_int(read_le<uint8_t>())); break;
      case 'M': stack_.push_back(Value::of_int(read_le<uint16_t>())); break;
      case 0x8a:
      case 0x8b: {  // LONG1, LONG4: little-endian two's complement
        const uint32_t n = op == 0x8a ? read_le<uint8_t>() : read_le<uint32_t>();
        const char* p = take(n);
        if (n > 8) {  // wider than 64 bits (legacy files' magic number): keep the raw bytes
          auto wide = Value::of_kind(Kind::kInt);
          wide->text.assign(p, n);
          stack_.push_back(wide);
          break;
        }
        uint64_t v = 0;
        for (uint32_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
        if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);
        stack_.push_back(Value::of_int(static_cast<int64_t>(v)));
        break;
      }
      case 'I':
      case 'L': {  // INT, LONG (text)
        std::string line = read_line();
        if (!line.empty() && line.back() == 'L') line.pop_back();
        if (line == "01" || line == "00") {
          stack_.push_back(Value::of_bool(line == "01"));
        } else {
          try {
            stack_.push_back(Value::of_int(std::stoll(line)));
          } catch (const std::exception&) {
            bad("bad integer");
          }
        }
        break;
      }
      case 'G': {  // BINFLOAT, big-endian
        const char* p = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(p[i]);
        double d;
        std::memcpy(&d, &bits, 8);
        stack_.push_back(Value::of_float(d));
        break;
      }
      case 'X':
      case 0x8c:
      case 0x8d:
      case 'T':
      case 'U':
      case 'B':
      case 'C':
      case 0x8e:
      case 0x96: {
        uint64_t n = 0;
        if (op == 0x8c || op == 'U' || op == 'C')
          n = read_le<uint8_t>();
        else if (op == 0x8d || op == 0x8e || op == 0x96)
          n = read_le<uint64_t>();
        else
          n = read_le<uint32_t>();
        const char* p = take(n);
        const bool is_bytes = op == 'B' || op == 'C' || op == 0x8e || op == 0x96;
        auto v = is_bytes ? Value::of_kind(Kind::kBytes) : Value::of_string({});
        v->text.assign(p, n);
        stack_.push_back(v);
        break;
      }
      case 'c': {  // GLOBAL
        const std::string module = read_line();
        const std::string name = read_line();
        stack_.push_back(make_global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        const ValuePtr name = pop();
        const ValuePtr module = pop();
        if (name->kind != Kind::kString || module->kind != Kind::kString) bad("STACK_GLOBAL without names");
        stack_.push_back(make_global(module->text, name->text));
        break;
      }
      case '}': stack_.push_back(make(Kind::kDict)); break;
      case ']': stack_.push_back(make(Kind::kList)); break;
      case ')': stack_.push_back(make_tuple({})); break;
      case 0x8f: stack_.push_back(make(Kind::kList)); break;  // EMPTY_SET, kept as a list
      case 'd': {
        auto dict = make(Kind::kDict);
        auto kv = pop_mark();
        set_items(*dict, kv);
        stack_.push_back(dict);
        break;
      }
      case 'l':
      case 0x91: {
        auto list = make(Kind::kList);
        list->items = pop_mark();
        stack_.push_back(list);
        break;
      }
      case 't': stack_.push_back(make_tuple(pop_mark())); break;
      case 0x85:
      case 0x86:
      case 0x87: {
        std::vector<ValuePtr> items(op - 0x84);
        for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
        stack_.push_back(make_tuple(std::move(items)));
        break;
      }
      case 'a': {
        ValuePtr v = pop();
        ValuePtr& list = top();
        if (list->kind != Kind::kList) bad("APPEND to a " + kind_name(list->kind));
        list->items.push_back(std::move(v));
        break;
      }
      case 'e':
      case 0x90: {
        auto items = pop_mark();
        ValuePtr& list = top();
        if (list->kind != Kind::kList) bad("APPENDS to a " + kind_name(list->kind));
        for (auto& v : items) list->items.push_back(std::move(v));
        break;
      }
      case 's': {
        ValuePtr v = pop();
        ValuePtr k = pop();
        std::vector<ValuePtr> kv{std::move(k), std::move(v)};
        set_items(*top(), kv);
        break;
      }
      case 'u': {
        auto kv = pop_mark();
        set_items(*top(), kv);
        break;
      }
      case 'p': memo_[read_decimal_line()] = top(); break;
      case 'q': memo_[read_le<uint8_t>()] = top(); break;
      case 'r': memo_[read_le<uint32_t>()] = top(); break;
      case 0x94: memo_[memo_.size()] = top(); break;
      case 'g': stack_.push_back(memo_get(read_decimal_line())); break;
      case 'h': stack_.push_back(memo_get(read_le<uint8_t>())); break;
      case 'j': stack_.push_back(memo_get(read_le<uint32_t>())); break;
      case 'R': {
        ValuePtr args = pop();
        reducing_ = pop();
        ValuePtr result = reduce(reducing_, args);
        reducing_.reset();
        stack_.push_back(std::move(result));
        break;
      }
      case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
        ValuePtr args = pop();
        ValuePtr cls = pop();
        stack_.push_back(reduce(cls, args));
        break;
      }
      case 0x92: {  // NEWOBJ_EX
        pop();
        ValuePtr args = pop();
        ValuePtr cls = pop();
        stack_.push_back(reduce(cls, args));
        break;
      }
      case 'b': pop(); break;  // BUILD: object state (an OrderedDict's _metadata) is not needed
      case 'Q': {
        ValuePtr pid = pop();
        if (!persistent_load_) bad("persistent id without a loader");
        try {
          stack_.push_back(persistent_load_(pid));
        } catch (const InputError& e) {
          const std::string key = tensor_key();
          throw InputError(key.empty() ? std::string(e.what()) : e.what() + (" (tensor " + key + ")"));
        }
        break;
      }
      default: bad(str_cat("unsupported opcode 0x", std::hex, static_cast<int>(op)));
    }
  }
}

}  // namespace

ValuePtr unpickle(const char* data, size_t size, size_t& offset, const PersistentLoad& persistent_load,
                  const std::string& what) {
  if (offset >= size) fail(what, ": file is truncated (no pickle at byte ", offset, ")");
  Reader reader(data, size, offset, persistent_load, what);
  ValuePtr result = reader.run();
  if (reader.has_cycle()) fail(what, ": corrupt pickle (a container holds itself)");
  reader.succeeded_ = true;
  offset = reader.position();
  return result;
}

}  // namespace segkit::pickle
