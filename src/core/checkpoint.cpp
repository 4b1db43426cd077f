#include "segkit/core/checkpoint.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

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

ValuePtr load_zip(const std::string& path) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  std::tuple<at::DataPtr, size_t> pkl;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
    if (!reader->hasRecord("data.pkl")) fail(path, ": zip archive holds no data.pkl: not a torch.save checkpoint");
    pkl = reader->getRecord("data.pkl");
  } catch (const c10::Error& e) {
    fail(path, ": unreadable zip checkpoint (", first_line(e.what_without_backtrace()), ")");
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
        if (!reader->hasRecord(record)) fail(path, ": corrupt checkpoint (missing record ", record, ")");
        auto [ptr, n] = reader->getRecord(record);
        data = std::make_shared<at::DataPtr>(std::move(ptr));
        size = n;
      } catch (const c10::Error& e) {
        fail(path, ": unreadable record ", record, " (", first_line(e.what_without_backtrace()), ")");
      }
      const size_t need = static_cast<size_t>(id.numel) * at::elementSize(id.dtype);
      if (size < need) fail(path, ": record ", record, " is truncated (", size, " of ", need, " bytes)");
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
  pickle::unpickle(bytes.data(), bytes.size(), offset, nullptr, path);  // sys_info

  std::map<std::string, at::Tensor> storages;
  auto persistent_load = [&](const ValuePtr& pid) -> ValuePtr {
    const StorageId id = parse_storage_id(pid, path);
    auto found = storages.find(id.key);
    if (found == storages.end()) {
      found = storages.emplace(id.key, at::empty({id.numel}, at::TensorOptions().dtype(id.dtype))).first;
    }
    at::Tensor storage = found->second;
    const auto& t = pid->items;
    if (t.size() >= 6 && t[5]->kind == Kind::kTuple && t[5]->items.size() == 3) {  // a view of the storage
      const auto& view = t[5]->items;
      if (view[0]->kind != Kind::kString || view[1]->kind != Kind::kInt || view[2]->kind != Kind::kInt) {
        fail(path, ": corrupt checkpoint (bad storage view)");
      }
      if (view[1]->integer < 0 || view[2]->integer < 0 || view[1]->integer + view[2]->integer > storage.numel()) {
        fail(path, ": corrupt checkpoint (storage view out of range)");
      }
      storage = storage.narrow(0, view[1]->integer, view[2]->integer);
    }
    return Value::of_tensor(storage);
  };
  const ValuePtr result = pickle::unpickle(bytes.data(), bytes.size(), offset, persistent_load, path);
  const ValuePtr keys = pickle::unpickle(bytes.data(), bytes.size(), offset, nullptr, path);
  if (keys->kind != Kind::kList) fail(path, ": corrupt checkpoint (no storage key list)");
  for (const auto& key : keys->items) {
    if (key->kind != Kind::kString) fail(path, ": corrupt checkpoint (bad storage key)");
    auto it = storages.find(key->text);
    if (it == storages.end()) fail(path, ": corrupt checkpoint (unknown storage ", key->text, ")");
    int64_t numel = 0;
    if (bytes.size() - offset < 8) fail(path, ": file is truncated (storage ", key->text, ")");
    std::memcpy(&numel, bytes.data() + offset, 8);
    offset += 8;
    at::Tensor& storage = it->second;
    if (numel != storage.numel()) fail(path, ": corrupt checkpoint (storage ", key->text, " has the wrong size)");
    const size_t n = static_cast<size_t>(numel) * storage.element_size();
    if (bytes.size() - offset < n) fail(path, ": file is truncated (storage ", key->text, ")");
    std::memcpy(storage.data_ptr(), bytes.data() + offset, n);
    offset += n;
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
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(path, ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open checkpoint");
  char head[10] = {};
  in.read(head, sizeof(head));
  const auto n = in.gcount();
  if (n >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return CheckpointFormat::kTorchZip;
  uint64_t header_size = 0;
  std::memcpy(&header_size, head, 8);
  if (n >= 9 && head[8] == '{' && header_size <= std::filesystem::file_size(path, ec)) {
    return CheckpointFormat::kSafetensors;
  }
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
  if (value->kind == Kind::kDict) {
    if (all_tensors(*value)) {
      StateDict state;
      for (const auto& [k, v] : value->entries) state.emplace_back(k->text, v->tensor);
      return state;
    }
    for (const char* wrapper : {"state_dict", "model", "model_state", "module"}) {
      if (auto inner = value->get(wrapper); inner && inner->kind == Kind::kDict) {
        return state_dict_from_value(inner, path);
      }
    }
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
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    if (!reader.hasRecord(kMetadataRecord)) return "";
    const auto [data, size] = reader.getRecord(kMetadataRecord);
    return std::string(static_cast<const char*>(data.get()), size);
  } catch (const c10::Error& e) {
    fail(path, ": unreadable zip checkpoint (", first_line(e.what_without_backtrace()), ")");
  }
}

}  // namespace segkit
