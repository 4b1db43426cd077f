#include "segkit/core/errors.h"

namespace segkit {

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) text += (i ? separator : "") + items[i];
  return text;
}

std::string first_line(const std::string& message) {
  const auto end = message.find('\n');
  return end == std::string::npos ? message : message.substr(0, end);
}

std::string shorten(const std::string& text, size_t max_chars) {
  if (text.size() <= max_chars) return text;
  return text.substr(0, max_chars) + "... (" + std::to_string(text.size() - max_chars) + " more characters)";
}

std::string error_line(const std::string& message) {
  std::string line = first_line(message);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = '?';  // a file's bytes must not drive the terminal
  }
  return shorten(line, 2000);
}

}  // namespace segkit
