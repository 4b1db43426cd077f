// safetensors: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw little-endian data.

#include <ATen/ATen.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "segkit/core/atomic_file.h"
#include "segkit/core/checkpoint.h"
#include "segkit/core/errors.h"

namespace segkit {
namespace {

struct DtypeName {
  at::ScalarType dtype;
  const char* name;
};
constexpr DtypeName kDtypes[] = {
    {at::kDouble, "F64"}, {at::kFloat, "F32"}, {at::kHalf, "F16"}, {at::kBFloat16, "BF16"}, {at::kLong, "I64"},
    {at::kInt, "I32"},    {at::kShort, "I16"}, {at::kChar, "I8"},  {at::kByte, "U8"},       {at::kBool, "BOOL"},
};

at::ScalarType dtype_of(const std::string& name, const std::string& path) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return d.dtype;
  }
  fail(path, ": unsupported safetensors dtype ", name);
}

const char* name_of(at::ScalarType dtype) {
  for (const auto& d : kDtypes) {
    if (dtype == d.dtype) return d.name;
  }
  fail("safetensors cannot hold tensors of dtype ", at::toString(dtype));
}

}  // namespace

namespace {

nlohmann::ordered_json parse_header(const std::string& bytes, const std::string& path) {
  if (bytes.size() < 8) fail(path, ": safetensors file is truncated");
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  if (header_size > bytes.size() - 8) fail(path, ": safetensors file is truncated (header)");
  nlohmann::ordered_json header;
  try {
    header = nlohmann::ordered_json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<int64_t>(header_size));
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": corrupt safetensors header (", e.what(), ")");
  }
  if (!header.is_object()) fail(path, ": corrupt safetensors header (not an object)");
  return header;
}

}  // namespace

std::string load_safetensors_metadata(const std::string& path) {
  // The header alone: the length, then the JSON (the tensors' bytes are not read).
  std::ifstream in(path, std::ios::binary);
  std::string bytes(8, '\0');
  in.read(bytes.data(), 8);
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  if (in.gcount() == 8 && header_size <= std::filesystem::file_size(path) - 8) {
    bytes.resize(8 + header_size);
    in.read(bytes.data() + 8, static_cast<std::streamsize>(header_size));
    bytes.resize(8 + static_cast<size_t>(in.gcount()));
  }
  const nlohmann::ordered_json header = parse_header(bytes, path);
  const auto meta = header.find("__metadata__");
  if (meta == header.end() || !meta->is_object()) return "";
  const auto text = meta->find("segkit");
  return text != meta->end() && text->is_string() ? text->get<std::string>() : "";
}

StateDict load_safetensors(const std::string& path) {
  const auto bytes = std::make_shared<std::string>(read_file(path));
  const nlohmann::ordered_json header = parse_header(*bytes, path);
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes->data(), 8);
  const size_t data_start = 8 + header_size;
  const size_t data_size = bytes->size() - data_start;
  StateDict state;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    try {
      const at::ScalarType dtype = dtype_of(info.at("dtype").get<std::string>(), path);
      const auto shape = info.at("shape").get<std::vector<int64_t>>();
      const auto offsets = info.at("data_offsets").get<std::vector<uint64_t>>();
      int64_t numel = 1;
      for (int64_t s : shape) {
        if (s < 0) fail(path, ": tensor ", name, " has a negative size");
        numel *= s;
      }
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size ||
          offsets[1] - offsets[0] != static_cast<uint64_t>(numel) * at::elementSize(dtype)) {
        fail(path, ": tensor ", name, " has a bad byte range (truncated or corrupt file)");
      }
      at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
      std::memcpy(t.data_ptr(), bytes->data() + data_start + offsets[0], offsets[1] - offsets[0]);
      state.emplace_back(name, std::move(t));
    } catch (const nlohmann::json::exception& e) {
      fail(path, ": corrupt safetensors entry ", name, " (", e.what(), ")");
    }
  }
  return state;
}

void save_safetensors(const StateDict& state, const std::string& path, const std::string& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = {{"segkit", metadata}};
  std::vector<at::Tensor> tensors;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : state) {
    at::Tensor t = tensor.cpu().contiguous();
    const uint64_t n = t.numel() * t.element_size();
    header[name] = {
        {"dtype", name_of(t.scalar_type())}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
    tensors.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned
  const uint64_t header_size = text.size();

  AtomicFile file(path);
  file.write(&header_size, 8);
  file.write(text.data(), text.size());
  for (const auto& t : tensors) file.write(t.data_ptr(), t.numel() * t.element_size());
  file.commit();
}

}  // namespace segkit
