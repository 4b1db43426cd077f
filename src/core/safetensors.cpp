// safetensors: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw little-endian data.

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <tuple>

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
  fail(path, ": unsupported safetensors dtype ", shorten(name, 40));
}

const char* name_of(at::ScalarType dtype) {
  for (const auto& d : kDtypes) {
    if (dtype == d.dtype) return d.name;
  }
  fail("safetensors cannot hold tensors of dtype ", at::toString(dtype));
}

}  // namespace

namespace {

// As the reference reader (the safetensors crate): a header of at most 100 MB that fits the
// file, a JSON object starting with '{'.
constexpr uint64_t kMaxHeaderSize = 100'000'000;

uint64_t header_size_of(const std::string& bytes, uint64_t file_size, const std::string& path) {
  if (bytes.size() < 8) fail(path, ": safetensors file is truncated (", file_size, " bytes, no header length)");
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  if (header_size > kMaxHeaderSize) {
    fail(path, ": safetensors header length is ", header_size, " bytes, over the format's limit of ", kMaxHeaderSize,
         " (a corrupt file?)");
  }
  if (header_size > file_size - 8) {
    fail(path, ": safetensors header of ", header_size, " bytes runs past the end of the file (", file_size,
         " bytes): the file is truncated");
  }
  return header_size;
}

// The JSON after the length; `bytes` holds at least 8 + header_size (from header_size_of).
nlohmann::ordered_json parse_header(const std::string& bytes, uint64_t header_size, const std::string& path) {
  nlohmann::ordered_json header;
  try {
    header = nlohmann::ordered_json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<int64_t>(header_size));
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": corrupt safetensors header (", shorten(e.what(), 200), ")");
  }
  if (!header.is_object()) fail(path, ": corrupt safetensors header (not a JSON object)");
  if (const auto meta = header.find("__metadata__"); meta != header.end()) {
    if (!meta->is_object()) fail(path, ": corrupt safetensors header (__metadata__ is not an object of strings)");
    for (const auto& [key, value] : meta->items()) {
      if (!value.is_string()) {
        fail(path, ": corrupt safetensors header (__metadata__ entry ", shorten(key, 100), " is not a string)");
      }
    }
  }
  return header;
}

struct TensorEntry {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

// One tensor's entry, checked: a known dtype, a shape of non-negative integers whose
// element count and byte size fit 64 bits, data offsets [begin, end] that match that size.
TensorEntry parse_entry(const std::string& name, const nlohmann::ordered_json& info, const std::string& path) {
  const std::string shown = shorten(name, 200);
  auto bad = [&](const std::string& problem) { fail(path, ": safetensors tensor ", shown, " ", problem); };
  if (!info.is_object()) bad("has no entry object");
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!info.contains(key)) bad(str_cat("has no ", key));
  }
  if (!info["dtype"].is_string()) bad("has a dtype that is not a string");
  TensorEntry entry{name, dtype_of(info["dtype"].get<std::string>(), path), {}, 0, 0};
  const auto& shape = info["shape"];
  if (!shape.is_array()) bad("has a shape that is not a list");
  uint64_t numel = 1;
  for (const auto& s : shape) {
    if (!s.is_number_unsigned())
      bad(str_cat("has a shape entry that is not a whole number from 0 to 2^63 (", shorten(s.dump(), 40), ")"));
    const uint64_t v = s.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, v, &numel)) {
      bad("has more elements than 64 bits can count");
    }
    entry.shape.push_back(static_cast<int64_t>(v));
  }
  const auto& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    bad("has data_offsets that are not two whole numbers");
  }
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(at::elementSize(entry.dtype)), &nbytes)) {
    bad("has more bytes than 64 bits can count");
  }
  if (entry.end < entry.begin)
    bad(str_cat("has data_offsets that end before they begin [", entry.begin, ", ", entry.end, "]"));
  if (entry.end - entry.begin != nbytes) {
    bad(str_cat("has data_offsets [", entry.begin, ", ", entry.end, "] of ", entry.end - entry.begin,
                " bytes, but its shape and dtype make ", nbytes));
  }
  return entry;
}

// The entries sorted by offset, checked to tile the data exactly as the reference reader
// requires: no gap, no overlap, nothing past the end and nothing after the last tensor.
std::vector<TensorEntry> parse_entries(const nlohmann::ordered_json& header, uint64_t data_size,
                                       const std::string& path) {
  std::vector<TensorEntry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name != "__metadata__") entries.push_back(parse_entry(name, info, path));
  }
  std::vector<size_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return entries[a].begin < entries[b].begin; });
  uint64_t end = 0;
  for (size_t i : order) {
    const TensorEntry& e = entries[i];
    if (e.begin != end) {
      fail(path, ": safetensors tensor ", shorten(e.name, 200), " begins at byte ", e.begin, " of the data, ",
           e.begin < end ? "inside the tensor before it" : "leaving a gap after the tensor before it",
           " (which ends at ", end, "): the header is corrupt");
    }
    end = e.end;
  }
  if (end > data_size) {
    fail(path, ": safetensors data is truncated (the header places tensors up to byte ", end, ", the file holds ",
         data_size, ")");
  }
  if (end < data_size) {
    fail(path, ": safetensors file has ", data_size - end,
         " bytes after the last tensor's data (a corrupt or "
         "concatenated file)");
  }
  return entries;
}

}  // namespace

namespace {

uint64_t file_size_of(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, ": cannot read (", ec.message(), ")");
  return size;
}

}  // namespace

std::string load_safetensors_metadata(const std::string& path) {
  // The header alone: the length, then the JSON (the tensors' bytes are not read).
  check_readable_file(path, "checkpoint");
  const uint64_t file_size = file_size_of(path);
  std::ifstream in(path, std::ios::binary);
  std::string bytes(8, '\0');
  in.read(bytes.data(), 8);
  bytes.resize(static_cast<size_t>(in.gcount()));
  const uint64_t header_size = header_size_of(bytes, file_size, path);
  bytes.resize(8 + header_size);
  in.read(bytes.data() + 8, static_cast<std::streamsize>(header_size));
  if (static_cast<uint64_t>(in.gcount()) != header_size) fail(path, ": read error (the file shrank while read)");
  const nlohmann::ordered_json header = parse_header(bytes, header_size, path);
  const auto meta = header.find("__metadata__");
  if (meta == header.end()) return "";
  const auto text = meta->find("segkit");
  return text != meta->end() ? text->get<std::string>() : "";
}

StateDict load_safetensors(const std::string& path) {
  const std::string bytes = read_file(path);
  const uint64_t header_size = header_size_of(bytes, bytes.size(), path);
  const nlohmann::ordered_json header = parse_header(bytes, header_size, path);
  const size_t data_start = 8 + header_size;
  const std::vector<TensorEntry> entries = parse_entries(header, bytes.size() - data_start, path);
  StateDict state;
  for (const TensorEntry& e : entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), bytes.data() + data_start + e.begin, e.end - e.begin);
    state.emplace_back(e.name, std::move(t));
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
