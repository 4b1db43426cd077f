#pragma once

#include <cstdio>
#include <exception>
#include <string>

namespace segkit {

/// Writes a file so that readers see either the old file or the whole new one:
/// data goes to a temporary file beside the target, which commit() flushes,
/// syncs and renames over it. Without commit() the temporary file is removed.
///
/// The temporary is named `<target>.segkit-tmp.<pid>.<start>.<host>` (the writing process,
/// when it started, and the machine), so a temporary whose process is gone (killed with
/// SIGKILL, or the machine lost power) is recognised as abandoned: the first AtomicFile a
/// process opens in a folder removes that folder's abandoned temporaries of this machine. A temporary is also removed
/// when the process dies of SIGINT, SIGTERM or SIGHUP (see remove_temporaries_on_signals).
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
  const std::string& temporary_path() const { return temp_path_; }

 private:
  [[noreturn]] void fail_io(const char* action);
  void close_and_remove();

  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  int slot_ = -1;
  std::exception_ptr deferred_error_;
};

/// Writes a whole buffer atomically.
void write_file_atomically(const std::string& path, const std::string& bytes);

/// Removes the temporaries of AtomicFiles in `dir` whose process is gone; returns how many.
/// Done once per folder and process by AtomicFile itself; callers may sweep an output
/// folder up front.
int remove_abandoned_temporaries(const std::string& dir);

/// Installs handlers so that SIGINT, SIGTERM and SIGHUP (those not ignored, as nohup ignores
/// SIGHUP) remove the temporaries of open AtomicFiles before the process dies of the signal,
/// and ignores SIGXFSZ, so that a write
/// past `ulimit -f` fails with "File too large" (and the temporary is removed) instead of
/// killing the process. Call once, early in main().
void remove_temporaries_on_signals();

/// Reads a whole file; throws InputError naming the file and the reason if it cannot.
std::string read_file(const std::string& path);

/// Throws InputError naming `path` unless it is a regular file that can be opened for
/// reading: "no such file", "is a folder", "is a FIFO (named pipe), not a regular file",
/// "cannot open checkpoint (Permission denied)": `what` ("checkpoint") names the file's role.
void check_readable_file(const std::string& path, const std::string& what = "file");

}  // namespace segkit
