#pragma once

#include <string>
#include <vector>

namespace segkit {

/// One line of a two-column list file: a path (resolved against the list's folder) and
/// the second field as written.
struct ListLine {
  std::string path;
  std::string value;
  int number = 0;  ///< the line's number, for errors
};

/// Reads "PATH VALUE" lines (blank lines skipped); a line of another shape is an error
/// naming the file, the line and `expected` ("image mask"). An empty list is an error.
std::vector<ListLine> read_list_lines(const std::string& list_path, const std::string& expected);

/// `path` as written if absolute, else relative to `list_path`'s folder.
std::string resolve_list_path(const std::string& list_path, const std::string& path);

}  // namespace segkit
