#include "segkit/core/checkpoint.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <tuple>

#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"

namespace segkit {
namespace {

using pickle::Kind;
using pickle::Value;
using pickle::ValuePtr;

// ('storage', torch.FloatStorage, key, location, numel[, view_metadata])
struct StorageId {
  at::ScalarType dtype;
  std::string key;
  int64_t numel;
};

StorageId parse_storage_id(const ValuePtr& pid, const std::string& path) {
  const auto& t = pid->items;
  if (pid->kind != Kind::kTuple || t.size() < 5 || t[0]->kind != Kind::kString || t[0]->text != "storage" ||
      t[1]->kind != Kind::kGlobal || t[2]->kind != Kind::kString || t[4]->kind != Kind::kInt || t[4]->integer < 0) {
    fail(path, ": corrupt checkpoint (unexpected persistent id)");
  }
  return {pickle::storage_dtype(t[1]->text, path), t[2]->text, t[4]->integer};
}

// LibTorch's zip reader. When its constructor throws (a corrupt archive), LibTorch 1.13 leaks
// the archive's miniz state (about 1.4 KB): bounded, once per failed load, and outside
// segkit's reach; fuzz/lsan.supp names this one place.
std::unique_ptr<caffe2::serialize::PyTorchStreamReader> open_zip(const std::string& path) {
  try {
    return std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    fail(path, ": unreadable zip checkpoint (", shorten(first_line(e.what_without_backtrace()), 300), ")");
  }
}

ValuePtr load_zip(const std::string& path) {
  const std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader = open_zip(path);
  std::tuple<at::DataPtr, size_t> pkl;
  try {
    if (!reader->hasRecord("data.pkl")) fail(path, ": zip archive holds no data.pkl: not a torch.save checkpoint");
    pkl = reader->getRecord("data.pkl");
  } catch (const c10::Error& e) {
    fail(path, ": unreadable zip checkpoint (", shorten(first_line(e.what_without_backtrace()), 300), ")");
  }
  std::map<std::string, at::Tensor> storages;
  auto persistent_load = [&](const ValuePtr& pid) -> ValuePtr {
    const StorageId id = parse_storage_id(pid, path);
    auto found = storages.find(id.key);
    if (found == storages.end()) {
      const std::string record = "data/" + id.key;
      std::shared_ptr<at::DataPtr> data;
      size_t size = 0;
      try {
        if (!reader->hasRecord(record)) fail(path, ": corrupt checkpoint (missing record ", shorten(record, 100), ")");
        auto [ptr, n] = reader->getRecord(record);
        data = std::make_shared<at::DataPtr>(std::move(ptr));
        size = n;
      } catch (const c10::Error& e) {
        fail(path, ": unreadable record ", shorten(record, 100), " (",
             shorten(first_line(e.what_without_backtrace()), 300), ")");
      }
      size_t need = 0;
      if (__builtin_mul_overflow(static_cast<size_t>(id.numel), at::elementSize(id.dtype), &need) || size < need) {
        fail(path, ": record ", shorten(record, 100), " is truncated (", size, " bytes; its storage of ", id.numel, " ",
             at::toString(id.dtype), " elements needs more)");
      }
      at::Tensor storage = id.numel == 0
                               ? at::empty({0}, at::TensorOptions().dtype(id.dtype))
                               : at::from_blob(
                                     data->get(), {id.numel}, [data](void*) {}, at::TensorOptions().dtype(id.dtype));
      found = storages.emplace(id.key, storage).first;
    }
    return Value::of_tensor(found->second);
  };
  const auto& [ptr, size] = pkl;
  size_t offset = 0;
  return pickle::unpickle(static_cast<const char*>(ptr.get()), size, offset, persistent_load, path);
}

// The legacy format's system info: {'protocol_version': 1001, 'little_endian': True,
// 'type_sizes': {'short': 2, 'int': 4, 'long': 4}}. Storages are raw bytes in the writer's
// byte order, so a big-endian writer's file is refused (torch.load ignores this record and
// would misread it). The type sizes do not shape the data (element widths follow the
// storage types; torch.save writes long=4 even where a C long has 8 bytes), but values no
// torch.save ever wrote mark a corrupt file.
void check_system_info(const ValuePtr& info, const std::string& path) {
  if (info->kind != Kind::kDict) fail(path, ": corrupt legacy checkpoint (no system info record)");
  if (const auto little = info->get("little_endian"); little && little->kind == Kind::kBool && !little->boolean) {
    fail(path,
         ": legacy checkpoint written on a big-endian machine; segkit reads little-endian files only "
         "(load it there and save it again with torch.save)");
  }
  if (const auto sizes = info->get("type_sizes"); sizes && sizes->kind == Kind::kDict) {
    for (const auto& [name, low, high] : std::initializer_list<std::tuple<const char*, int64_t, int64_t>>{
             {"short", 2, 2}, {"int", 4, 4}, {"long", 4, 8}}) {
      const auto size = sizes->get(name);
      if (size && (size->kind != Kind::kInt || size->integer < low || size->integer > high ||
                   (size->integer != low && size->integer != high))) {
        fail(path, ": corrupt legacy checkpoint (its system info gives a C ", name, " ",
             size->kind == Kind::kInt ? std::to_string(size->integer) : std::string("no number of"),
             " bytes; torch.save writes ", low == high ? std::to_string(low) : str_cat(low, " or ", high), ")");
      }
    }
  }
}

// The pre-1.6 format: pickles of the magic number, the protocol version and
// system info, then the object, then the list of storage keys, then each
// storage's bytes behind an int64 element count.
ValuePtr load_legacy(const std::string& path) {
  const std::string bytes = read_file(path);
  size_t offset = 0;
  const ValuePtr magic = pickle::unpickle(bytes.data(), bytes.size(), offset, nullptr, path);
  static const std::string kMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
  if (magic->kind != Kind::kInt || magic->text != kMagic) {
    fail(path, ": not a PyTorch checkpoint (bad magic number)");
  }
  const ValuePtr protocol = pickle::unpickle(bytes.data(), bytes.size(), offset, nullptr, path);
  if (protocol->kind != Kind::kInt || protocol->integer != 1001) {
    fail(path, ": unsupported legacy checkpoint protocol");
  }
  check_system_info(pickle::unpickle(bytes.data(), bytes.size(), offset, nullptr, path), path);

  // Every storage's bytes follow the pickles, so none can be larger than the file: a
  // hostile element count is refused before anything is allocated for it.
  std::map<std::string, at::Tensor> storages;
  auto persistent_load = [&](const ValuePtr& pid) -> ValuePtr {
    const StorageId id = parse_storage_id(pid, path);
    auto found = storages.find(id.key);
    if (found == storages.end()) {
      size_t need = 0;
      if (__builtin_mul_overflow(static_cast<size_t>(id.numel), at::elementSize(id.dtype), &need) ||
          need > bytes.size()) {
        fail(path, ": storage ", shorten(id.key, 100), " of ", id.numel, " ", at::toString(id.dtype),
             " elements is larger than the file (", bytes.size(), " bytes): the file is corrupt or truncated");
      }
      found = storages.emplace(id.key, at::empty({id.numel}, at::TensorOptions().dtype(id.dtype))).first;
    }
    at::Tensor storage = found->second;
    const auto& t = pid->items;
    if (t.size() >= 6 && t[5]->kind == Kind::kTuple && t[5]->items.size() == 3) {  // a view of the storage
      const auto& view = t[5]->items;
      if (view[0]->kind != Kind::kString || view[1]->kind != Kind::kInt || view[2]->kind != Kind::kInt) {
        fail(path, ": corrupt checkpoint (bad storage view)");
      }
      int64_t view_end = 0;
      if (view[1]->integer < 0 || view[2]->integer < 0 ||
          __builtin_add_overflow(view[1]->integer, view[2]->integer, &view_end) || view_end > storage.numel()) {
        fail(path, ": corrupt checkpoint (storage view out of range)");
      }
      storage = storage.narrow(0, view[1]->integer, view[2]->integer);
    }
    return Value::of_tensor(storage);
  };
  const ValuePtr result = pickle::unpickle(bytes.data(), bytes.size(), offset, persistent_load, path);
  const ValuePtr keys = pickle::unpickle(bytes.data(), bytes.size(), offset, nullptr, path);
  if (keys->kind != Kind::kList) fail(path, ": corrupt checkpoint (no storage key list)");
  std::set<std::string> filled;  // each storage's bytes exactly once: none left uninitialised
  for (const auto& key : keys->items) {
    if (key->kind != Kind::kString) fail(path, ": corrupt checkpoint (bad storage key)");
    auto it = storages.find(key->text);
    if (it == storages.end()) fail(path, ": corrupt checkpoint (unknown storage ", shorten(key->text, 100), ")");
    if (!filled.insert(key->text).second) {
      fail(path, ": corrupt checkpoint (storage ", shorten(key->text, 100), " is listed twice)");
    }
    int64_t numel = 0;
    if (bytes.size() - offset < 8) fail(path, ": file is truncated (storage ", shorten(key->text, 100), ")");
    std::memcpy(&numel, bytes.data() + offset, 8);
    offset += 8;
    at::Tensor& storage = it->second;
    if (numel != storage.numel()) {
      fail(path, ": corrupt checkpoint (storage ", shorten(key->text, 100), " holds ", numel, " elements, its tensors ",
           storage.numel(), ")");
    }
    const size_t n = static_cast<size_t>(numel) * storage.element_size();
    if (bytes.size() - offset < n) fail(path, ": file is truncated (storage ", shorten(key->text, 100), ")");
    if (n > 0) std::memcpy(storage.data_ptr(), bytes.data() + offset, n);
    offset += n;
  }
  if (filled.size() != storages.size()) {
    fail(path, ": corrupt checkpoint (", storages.size() - filled.size(), " of its ", storages.size(),
         " storages have no data)");
  }
  return result;
}

bool all_tensors(const Value& dict) {
  for (const auto& [k, v] : dict.entries) {
    if (k->kind != Kind::kString || v->kind != Kind::kTensor) return false;
  }
  return !dict.entries.empty();
}

}  // namespace

CheckpointFormat detect_checkpoint_format(const std::string& path) {
  check_readable_file(path, "checkpoint");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open checkpoint (", std::strerror(errno), ")");
  char head[10] = {};
  in.read(head, sizeof(head));
  const auto n = in.gcount();
  if (n >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return CheckpointFormat::kTorchZip;
  // safetensors: a header length, then its JSON object (whether the length fits the file
  // is the reader's to check, so that the message says so).
  if (n >= 9 && head[8] == '{') return CheckpointFormat::kSafetensors;
  // A pickle's PROTO opcode (torch.save writes protocol 2 unless told otherwise).
  if (n >= 2 && static_cast<unsigned char>(head[0]) == 0x80 && head[1] >= 2 && head[1] <= 5) {
    return CheckpointFormat::kTorchLegacy;
  }
  if (n == 0) fail(path, ": checkpoint file is empty");
  fail(path, ": not a checkpoint (neither torch.save's zip or legacy format nor safetensors)");
}

namespace {

ValuePtr load_torch_file(const std::string& path, CheckpointFormat format) {
  switch (format) {
    case CheckpointFormat::kTorchZip: return load_zip(path);
    case CheckpointFormat::kTorchLegacy: return load_legacy(path);
    case CheckpointFormat::kSafetensors: break;
  }
  fail(path, ": is a safetensors file, not a torch.save file");
}

}  // namespace

ValuePtr load_torch_file(const std::string& path) { return load_torch_file(path, detect_checkpoint_format(path)); }

StateDict state_dict_from_value(const ValuePtr& value, const std::string& path) {
  // A loop, not recursion: a hostile file may nest {"model": {"model": ...}} without end.
  for (ValuePtr current = value; current->kind == Kind::kDict;) {
    if (all_tensors(*current)) {
      StateDict state;
      for (const auto& [k, v] : current->entries) state.emplace_back(k->text, v->tensor);
      return state;
    }
    ValuePtr inner;
    for (const char* wrapper : {"state_dict", "model", "model_state", "module"}) {
      if (auto candidate = current->get(wrapper); candidate && candidate->kind == Kind::kDict) {
        inner = candidate;
        break;
      }
    }
    if (!inner) break;
    current = inner;
  }
  fail(path, ": holds no state dict (expected a dict of parameter names to tensors, found a ",
       pickle::kind_name(value->kind), ")");
}

StateDict load_state_dict(const std::string& path) {
  const CheckpointFormat format = detect_checkpoint_format(path);
  if (format == CheckpointFormat::kSafetensors) return load_safetensors(path);
  return state_dict_from_value(load_torch_file(path, format), path);
}

ValuePtr state_dict_to_value(const StateDict& state) {
  auto dict = Value::of_kind(Kind::kDict);
  for (const auto& [name, tensor] : state) dict->set(name, Value::of_tensor(tensor));
  return dict;
}

namespace {

constexpr const char* kMetadataRecord = "segkit.json";

void save_torch_file(const Value& value, const std::string& path, const std::string& metadata) {
  std::vector<at::Tensor> storages;
  auto persistent_save = [&](const at::Tensor& t) -> ValuePtr {
    auto pid = Value::of_kind(Kind::kTuple);
    auto type = Value::of_kind(Kind::kGlobal);
    type->text = "torch." + pickle::storage_type_name(t.scalar_type());
    pid->items = {Value::of_string("storage"), type, Value::of_string(std::to_string(storages.size())),
                  Value::of_string("cpu"), Value::of_int(t.numel())};
    storages.push_back(t.cpu().contiguous());
    return pid;
  };
  const std::string data_pkl = pickle::pickle(value, persistent_save);

  AtomicFile file(path);
  {
    caffe2::serialize::PyTorchStreamWriter writer(
        [&](const void* data, size_t size) { return file.write_deferring_errors(data, size); });
    writer.writeRecord("data.pkl", data_pkl.data(), data_pkl.size());
    writer.writeRecord("byteorder", "little", 6);
    if (!metadata.empty()) writer.writeRecord(kMetadataRecord, metadata.data(), metadata.size());
    for (size_t i = 0; i < storages.size(); ++i) {
      const at::Tensor& s = storages[i];
      writer.writeRecord("data/" + std::to_string(i), s.data_ptr(), s.numel() * s.element_size());
    }
    writer.writeEndOfFile();
  }
  file.commit();
}

}  // namespace

void save_torch_file(const Value& value, const std::string& path) { save_torch_file(value, path, ""); }

void save_state_dict(const StateDict& state, const std::string& path, CheckpointFormat format,
                     const std::string& metadata) {
  switch (format) {
    case CheckpointFormat::kSafetensors: save_safetensors(state, path, metadata); return;
    case CheckpointFormat::kTorchZip: save_torch_file(*state_dict_to_value(state), path, metadata); return;
    case CheckpointFormat::kTorchLegacy: break;
  }
  fail(path, ": writing the legacy pre-1.6 format is not supported");
}

std::string load_checkpoint_metadata(const std::string& path) {
  switch (detect_checkpoint_format(path)) {
    case CheckpointFormat::kSafetensors: return load_safetensors_metadata(path);
    case CheckpointFormat::kTorchLegacy: return "";
    case CheckpointFormat::kTorchZip: break;
  }
  const std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader = open_zip(path);
  try {
    if (!reader->hasRecord(kMetadataRecord)) return "";
    const auto [data, size] = reader->getRecord(kMetadataRecord);
    return std::string(static_cast<const char*>(data.get()), size);
  } catch (const c10::Error& e) {
    fail(path, ": unreadable zip checkpoint (", shorten(first_line(e.what_without_backtrace()), 300), ")");
  }
}

}  // namespace segkit
