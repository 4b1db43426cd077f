#include "segkit/core/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "segkit/core/errors.h"

namespace segkit {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  temp_path_ = str_cat(path_, ".tmp.", ::getpid());
  file_ = std::fopen(temp_path_.c_str(), "wb");
  if (file_ == nullptr) fail(path_, ": cannot write (", std::strerror(errno), ")");
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) {
    std::fclose(file_);
    std::remove(temp_path_.c_str());
  }
}

void AtomicFile::fail_io(const char* action) {
  const std::string reason = std::strerror(errno);
  std::fclose(file_);
  file_ = nullptr;
  std::remove(temp_path_.c_str());
  fail(path_, ": cannot ", action, " (", reason, "); the previous file, if any, is unchanged");
}

void AtomicFile::write(const void* data, size_t size) {
  if (size > 0 && std::fwrite(data, 1, size, file_) != size) fail_io("write");
}

size_t AtomicFile::write_deferring_errors(const void* data, size_t size) {
  if (deferred_error_) return size;
  try {
    write(data, size);
  } catch (...) {
    deferred_error_ = std::current_exception();
  }
  return size;
}

void AtomicFile::commit() {
  if (deferred_error_) std::rethrow_exception(deferred_error_);
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) fail_io("write");
  if (std::fclose(file_) != 0) {
    file_ = std::fopen(temp_path_.c_str(), "rb");  // so fail_io has something to close
    fail_io("write");
  }
  file_ = nullptr;
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temp_path_.c_str());
    fail(path_, ": cannot rename the finished file into place (", reason, ")");
  }
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(path, ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open (", std::strerror(errno), ")");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, ": read error");
  return bytes;
}

}  // namespace segkit
