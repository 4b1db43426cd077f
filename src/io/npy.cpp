#include "segkit/io/npy.h"

#include <ATen/ATen.h>

#include <cstring>
#include <regex>

#include "segkit/core/atomic_file.h"
#include "segkit/core/errors.h"

namespace segkit {
namespace {

struct NpyType {
  at::ScalarType dtype;
  const char* descr;
};
constexpr NpyType kTypes[] = {{at::kFloat, "<f4"}, {at::kDouble, "<f8"}, {at::kLong, "<i8"},
                              {at::kInt, "<i4"},   {at::kByte, "|u1"},   {at::kHalf, "<f2"}};

}  // namespace

void write_npy(const at::Tensor& tensor, const std::string& path) {
  const at::Tensor t = tensor.cpu().contiguous();
  const char* descr = nullptr;
  for (const auto& type : kTypes) {
    if (type.dtype == t.scalar_type()) descr = type.descr;
  }
  if (descr == nullptr) fail(path, ": cannot write dtype ", at::toString(t.scalar_type()), " as .npy");
  std::string shape;
  for (int64_t s : t.sizes()) shape += std::to_string(s) + ", ";
  if (t.dim() > 1) shape.resize(shape.size() - 2);  // (3,) keeps its comma, (3, 4) does not
  std::string header = str_cat("{'descr': '", descr, "', 'fortran_order': False, 'shape': (", shape, "), }");
  const size_t preamble = 10;  // magic, version, header length
  header.append(63 - (preamble + header.size()) % 64, ' ');
  header.push_back('\n');
  std::string head("\x93NUMPY\x01\x00", 8);
  const auto length = static_cast<uint16_t>(header.size());
  head.append(reinterpret_cast<const char*>(&length), 2);

  AtomicFile file(path);
  file.write(head.data(), head.size());
  file.write(header.data(), header.size());
  file.write(t.data_ptr(), t.numel() * t.element_size());
  file.commit();
}

at::Tensor read_npy(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) fail(path, ": not a .npy file");
  size_t header_length = 0;
  size_t offset = 0;
  if (bytes[6] == 1) {
    header_length = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else {
    uint32_t n = 0;
    if (bytes.size() < 12) fail(path, ": truncated .npy header");
    std::memcpy(&n, bytes.data() + 8, 4);
    header_length = n;
    offset = 12;
  }
  if (bytes.size() < offset + header_length) fail(path, ": truncated .npy header");
  const std::string header = bytes.substr(offset, header_length);
  offset += header_length;
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([^']+)'"))) fail(path, ": .npy header has no descr");
  const std::string descr = m[1];
  if (header.find("'fortran_order': True") != std::string::npos) fail(path, ": Fortran-order .npy is not supported");
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) fail(path, ": .npy header has no shape");
  std::vector<int64_t> shape;
  const std::string dims = m[1];
  const std::regex number("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number); it != std::sregex_iterator(); ++it) {
    shape.push_back(std::stoll(it->str()));
  }
  for (const auto& type : kTypes) {
    if (descr != type.descr) continue;
    at::Tensor t = at::empty(shape, type.dtype);
    const size_t n = t.numel() * t.element_size();
    if (bytes.size() - offset < n) fail(path, ": .npy data is truncated");
    std::memcpy(t.data_ptr(), bytes.data() + offset, n);
    return t;
  }
  fail(path, ": unsupported .npy dtype ", descr);
}

}  // namespace segkit
