#pragma once

#include <fstream>
#include <string>

namespace segkit::bench {

/// A field of /proc/self/status in KiB ("VmRSS", "VmHWM").
inline long status_kib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == field + ":") {
      in >> value;
      return value;
    }
    in.ignore(1 << 12, '\n');
  }
  return -1;
}

/// Resets VmHWM (peak resident memory) to the current RSS.
inline void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

}  // namespace segkit::bench
