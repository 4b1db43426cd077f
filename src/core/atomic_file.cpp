#include "segkit/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "segkit/core/errors.h"

namespace segkit {
namespace {

constexpr const char* kTempMarker = ".segkit-tmp.";

// This machine's name: a folder shared between machines (NFS) holds other machines'
// temporaries, whose processes this one cannot see; only its own are ever swept.
const std::string& host_name() {
  static const std::string name = [] {
    char buffer[256] = {};
    if (::gethostname(buffer, sizeof(buffer) - 1) != 0 || buffer[0] == '\0') return std::string("host");
    std::string text(buffer);
    for (char& c : text) {
      if (c == '/' || c == '\0') c = '_';
    }
    return text;
  }();
  return name;
}

// When a process started, in clock ticks since boot (field 22 of /proc/PID/stat); 0 if unknown.
// With the pid it names a process uniquely: a pid reused by a later process has another start.
unsigned long long process_start(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 1));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

bool process_alive(long pid, unsigned long long start) {
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  const unsigned long long now = process_start(pid);
  return now == 0 || now == start;  // unknown (no /proc): assume it is the writer
}

// The open AtomicFiles' temporaries, for the signal handler: fixed slots, no allocation.
struct Slot {
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 holds a path
  char path[4096];
};
std::array<Slot, 64> g_slots;

int register_temporary(const std::string& path) {
  if (path.size() >= sizeof(Slot::path)) return -1;
  for (size_t i = 0; i < g_slots.size(); ++i) {
    int expected = 0;
    if (g_slots[i].state.compare_exchange_strong(expected, 1)) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      g_slots[i].state.store(2);
      return static_cast<int>(i);
    }
  }
  return -1;  // more than 64 open at once: the sweep of a later run still removes it
}

void unregister_temporary(int slot) {
  if (slot >= 0) g_slots[static_cast<size_t>(slot)].state.store(0);
}

extern "C" void remove_temporaries_and_die(int signal) {
  for (auto& slot : g_slots) {
    if (slot.state.load() == 2) ::unlink(slot.path);
  }
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

void sweep_once(const std::string& dir) {
  static std::mutex mutex;
  static std::set<std::string> swept;
  std::error_code ec;
  const std::string key = std::filesystem::absolute(dir.empty() ? "." : dir, ec).lexically_normal().string();
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!swept.insert(key).second) return;
  }
  remove_abandoned_temporaries(dir.empty() ? "." : dir);
}

std::string file_kind(const struct stat& st) {
  if (S_ISDIR(st.st_mode)) return "is a folder, not a file";
  if (S_ISFIFO(st.st_mode)) return "is a FIFO (named pipe), not a regular file";
  if (S_ISSOCK(st.st_mode)) return "is a socket, not a regular file";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return "is a device, not a regular file";
  return "is not a regular file";
}

}  // namespace

int remove_abandoned_temporaries(const std::string& dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& item : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = item.path().filename().string();
    const auto marker = name.rfind(kTempMarker);
    if (marker == std::string::npos) continue;
    char* end = nullptr;
    const char* ids = name.c_str() + marker + std::strlen(kTempMarker);
    const long pid = std::strtol(ids, &end, 10);
    if (end == ids || *end != '.') continue;
    const unsigned long long start = std::strtoull(end + 1, &end, 10);
    if (*end != '.' || host_name() != end + 1 || process_alive(pid, start)) continue;
    std::error_code remove_error;
    if (std::filesystem::remove(item.path(), remove_error)) ++removed;
  }
  return removed;
}

void remove_temporaries_on_signals() {
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    if (::sigaction(signal, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;  // nohup, `cmd &`
    struct sigaction action {};
    action.sa_handler = remove_temporaries_and_die;
    sigemptyset(&action.sa_mask);
    ::sigaction(signal, &action, nullptr);
  }
  std::signal(SIGXFSZ, SIG_IGN);
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  sweep_once(std::filesystem::path(path_).parent_path().string());
  static const unsigned long long start = process_start(::getpid());
  temp_path_ = str_cat(path_, kTempMarker, ::getpid(), ".", start, ".", host_name());
  slot_ = register_temporary(temp_path_);
  file_ = std::fopen(temp_path_.c_str(), "wb");
  if (file_ == nullptr) {
    const std::string reason = std::strerror(errno);
    unregister_temporary(slot_);
    fail(path_, ": cannot write (", reason, ")");
  }
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) close_and_remove();
  unregister_temporary(slot_);
}

void AtomicFile::close_and_remove() {
  std::fclose(file_);
  file_ = nullptr;
  std::remove(temp_path_.c_str());
}

void AtomicFile::fail_io(const char* action) {
  const std::string reason = std::strerror(errno);
  close_and_remove();
  fail(path_, ": cannot ", action, " (", reason, "); the previous file, if any, is unchanged");
}

void AtomicFile::write(const void* data, size_t size) {
  if (file_ == nullptr) fail(path_, ": cannot write (the file was already closed after an error)");
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
    const std::string reason = std::strerror(errno);
    file_ = nullptr;
    std::remove(temp_path_.c_str());
    fail(path_, ": cannot write (", reason, "); the previous file, if any, is unchanged");
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

namespace {

// Opens `path` for reading if it is a regular file, judged on the descriptor itself (fstat),
// so nothing can be swapped in between; O_NONBLOCK: opening a FIFO never hangs.
struct ReadableFile {
  int fd = -1;
  off_t size = 0;
  ReadableFile(const std::string& path, const std::string& what) {
    fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR) fail(path, ": no such file");
      fail(path, ": cannot open ", what, " (", std::strerror(errno), ")");
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      fail(path, ": cannot open ", what, " (", reason, ")");
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      fail(path, ": ", file_kind(st));
    }
    size = st.st_size;
  }
  ~ReadableFile() { ::close(fd); }
  ReadableFile(const ReadableFile&) = delete;
  ReadableFile& operator=(const ReadableFile&) = delete;
};

}  // namespace

void check_readable_file(const std::string& path, const std::string& what) { ReadableFile file(path, what); }

std::string read_file(const std::string& path) {
  ReadableFile file(path, "file");
  std::string bytes(static_cast<size_t>(file.size) + 1, '\0');  // + 1: room to see the end
  size_t used = 0;
  while (true) {
    if (used == bytes.size()) bytes.resize(bytes.size() + 65536);  // the file grew since fstat
    const ssize_t n = ::read(file.fd, bytes.data() + used, bytes.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path, ": read error (", std::strerror(errno), ")");
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  bytes.resize(used);
  return bytes;
}

}  // namespace segkit
