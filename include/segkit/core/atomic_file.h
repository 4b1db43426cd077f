#pragma once

#include <cstdio>
#include <exception>
#include <string>

namespace segkit {

/// Writes a file so that readers see either the old file or the whole new one:
/// data goes to a temporary file beside the target, which commit() flushes,
/// syncs and renames over it. Without commit() the temporary file is removed.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  /// As write(), but for callbacks of writers that must not see an exception (LibTorch's
  /// zip writer aborts if one passes through it): the first failure is kept, later data
  /// dropped, and commit() raises it. Returns `size` for the writer's sake.
  size_t write_deferring_errors(const void* data, size_t size);
  void commit();
  const std::string& path() const { return path_; }

 private:
  [[noreturn]] void fail_io(const char* action);

  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  std::exception_ptr deferred_error_;
};

/// Writes a whole buffer atomically.
void write_file_atomically(const std::string& path, const std::string& bytes);

/// Reads a whole file; throws InputError naming the file if it cannot.
std::string read_file(const std::string& path);

}  // namespace segkit
