#include "segkit/data/list_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "segkit/core/errors.h"

namespace segkit {

std::string resolve_list_path(const std::string& list_path, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() ? path : (std::filesystem::path(list_path).parent_path() / p).string();
}

std::vector<ListLine> read_list_lines(const std::string& list_path, const std::string& expected) {
  std::ifstream in(list_path);
  if (!in) fail(list_path, ": cannot open list file");
  std::vector<ListLine> lines;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::istringstream fields(line);
    std::string path, value, extra;
    if (!(fields >> path)) continue;  // blank line
    if (!(fields >> value) || (fields >> extra)) {
      fail(list_path, ":", number, ": expected \"", expected, "\", got \"", line, "\"");
    }
    lines.push_back({resolve_list_path(list_path, path), value, number});
  }
  if (lines.empty()) fail(list_path, ": list file names no samples");
  return lines;
}

}  // namespace segkit
