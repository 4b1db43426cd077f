#pragma once

// A name -> value table for the things the command line and config files name
// (backbones, heads, models). Strings stop here: an unknown name is an error that
// lists the valid ones, and what comes back is typed.

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "segkit/core/errors.h"

namespace segkit {

template <typename T>
class Registry {
 public:
  /// `kind` names what the registry holds in errors: "backbone", "model".
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  /// Adds `value` under `name`; a name registered twice is a programming error.
  void add(const std::string& name, T value) {
    if (!entries_.emplace(name, std::move(value)).second) {
      throw std::logic_error(kind_ + " \"" + name + "\" is registered twice");
    }
    names_.push_back(name);
  }

  bool contains(const std::string& name) const { return entries_.count(name) > 0; }

  /// The value under `name`; throws InputError listing the known names otherwise.
  const T& at(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) fail("unknown ", kind_, " \"", name, "\" (known: ", known(), ")");
    return it->second;
  }

  /// Names in the order they were added.
  const std::vector<std::string>& names() const { return names_; }
  const std::string& kind() const { return kind_; }

  /// The known names, comma-separated.
  std::string known() const {
    std::string list;
    for (const auto& name : names_) list += (list.empty() ? "" : ", ") + name;
    return list;
  }

 private:
  std::string kind_;
  std::map<std::string, T> entries_;
  std::vector<std::string> names_;
};

}  // namespace segkit
