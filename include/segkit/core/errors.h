#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace segkit {

/// An error caused by what the user gave us: a file, a flag, a checkpoint.
/// The command-line tool prints what() as one line and exits non-zero.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Builds a message from streamable parts: str_cat("got ", 3, " channels").
template <typename... Parts>
std::string str_cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

/// Throws InputError with the parts joined.
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw InputError(str_cat(parts...));
}

/// The items with `separator` between them: join({"a", "b"}) is "a, b".
std::string join(const std::vector<std::string>& items, const std::string& separator = ", ");

/// Collapses a multi-line message (LibTorch's errors carry backtraces) to its first line.
std::string first_line(const std::string& message);

/// `text` cut to at most `max_chars` characters, the cut marked: "abc... (1234 more characters)".
/// For names and values taken from files, which may be of any length.
std::string shorten(const std::string& text, size_t max_chars = 200);

/// The one line the command line prints for an error: the first line, at most 2,000 characters.
std::string error_line(const std::string& message);

}  // namespace segkit
