#include "segkit/core/errors.h"

namespace segkit {

std::string first_line(const std::string& message) {
  const auto end = message.find('\n');
  return end == std::string::npos ? message : message.substr(0, end);
}

}  // namespace segkit
