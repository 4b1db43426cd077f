#include "usage.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "segkit/core/errors.h"

namespace segkit::cli {
namespace {

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
// neighbours ("predcit") each cost one.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string trim(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

std::string strip_dashes(const std::string& flag) { return flag.substr(flag.find_first_not_of('-')); }

const CLI::App* subcommand_named(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == name) return sub;
  }
  return nullptr;
}

}  // namespace

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  // What people coming from other tools type.
  static const std::map<std::string, std::string> synonyms = {
      {"learning-rate", "lr"},   {"learning_rate", "lr"}, {"batch-size", "batch"},  {"batch_size", "batch"},
      {"num-epochs", "epochs"},  {"epoch", "epochs"},     {"output-dir", "output"}, {"out", "output"},
      {"checkpoint", "weights"}, {"ckpt", "weights"},     {"arch", "model"},        {"classes", "num-classes"},
      {"tiles", "tile"},         {"gpu", "device"},       {"jobs", "threads"}};
  if (auto it = synonyms.find(word);
      it != synonyms.end() && std::find(candidates.begin(), candidates.end(), it->second) != candidates.end()) {
    return it->second;
  }
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& candidate : candidates) {
    const size_t d = edit_distance(word, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  // Close enough to be a typo: at most a third of the word changed (and at least one letter allowed).
  return best_distance <= std::max<size_t>(1, word.size() / 3) ? best : "";
}

std::vector<std::string> long_option_names(const CLI::App& cmd) {
  std::vector<std::string> names;
  for (const CLI::Option* option : cmd.get_options()) {
    for (const auto& name : option->get_lnames()) names.push_back(name);
  }
  return names;
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return names;
}

std::vector<ConfigLine> read_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError(path + ": cannot open the config file");
  std::vector<ConfigLine> lines;
  std::string section;
  int number = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++number;
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      const size_t close = line.find(']');
      section = trim(line.substr(1, close == std::string::npos ? std::string::npos : close - 1));
      lines.push_back({number, section, "", ""});
      continue;
    }
    const size_t equals = line.find('=');
    if (equals == std::string::npos) {
      throw UsageError(path + ":" + std::to_string(number) + ": expected \"key = value\", got \"" + line + "\"");
    }
    std::string value = trim(line.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    lines.push_back({number, section, trim(line.substr(0, equals)), value});
  }
  return lines;
}

void check_config_file(const CLI::App& app, const std::string& path) {
  const std::vector<std::string> sections = command_names(app);
  for (const ConfigLine& line : read_config_file(path)) {
    const std::string where = path + ":" + std::to_string(line.number) + ": ";
    const CLI::App* section =
        line.section.empty() || line.section == "default" ? &app : subcommand_named(app, line.section);
    if (section == nullptr) {  // reported at the section's own line, its first
      const std::string guess = nearest(line.section, sections);
      throw UsageError(where + "unknown section [" + line.section + "]" +
                       (guess.empty() ? "" : "; did you mean [" + guess + "]?"));
    }
    if (line.key.empty()) continue;
    std::string key = line.key, section_name = line.section;
    const CLI::App* owner = section;
    if (const size_t dot = key.find('.'); dot != std::string::npos && section == &app) {
      // "train.epochs = 3" outside any section: the [train] section's key, as CLI11 reads it.
      section_name = key.substr(0, dot);
      owner = subcommand_named(app, section_name);
      if (owner == nullptr) {
        const std::string guess = nearest(section_name, sections);
        throw UsageError(where + "unknown command \"" + section_name + "\" in key \"" + key + "\"" +
                         (guess.empty() ? "" : "; did you mean " + guess + "?"));
      }
      key = key.substr(dot + 1);
    }
    const auto names = long_option_names(*owner);
    if (std::find(names.begin(), names.end(), key) != names.end()) continue;
    const std::string guess = nearest(key, names);
    const std::string in_section = owner == &app ? "outside any section" : "in [" + section_name + "]";
    throw UsageError(where + "unknown key \"" + key + "\" " + in_section +
                     (guess.empty() ? "" : "; did you mean \"" + guess + "\"?"));
  }
}

void check_arguments(const CLI::App& app, const std::vector<std::string>& args) {
  const auto known = [](const CLI::App& cmd, const std::string& flag) {
    return cmd.get_option_no_throw(flag) != nullptr || flag == "--help" || flag == "-h";
  };
  const auto is_flag = [](const std::string& word) {
    return word.size() > 1 && word[0] == '-' && !std::isdigit(static_cast<unsigned char>(word[1])) && word[1] != '.';
  };
  size_t i = 0;
  for (; i < args.size() && is_flag(args[i]); ++i) {  // the app's own options, before the command
    const std::string flag = args[i].substr(0, args[i].find('='));
    if (!known(app, flag)) {
      const std::string guess = nearest(strip_dashes(flag), long_option_names(app));
      throw UsageError("unknown option " + flag + " for `segkit`" +
                       (guess.empty() ? "" : "; did you mean --" + guess + "?") + " (see `segkit --help`)");
    }
    const CLI::Option* option = app.get_option_no_throw(flag);
    const bool takes_value = option != nullptr && option->get_items_expected_min() > 0;
    if (takes_value && args[i].find('=') == std::string::npos) ++i;  // its value
  }
  if (i >= args.size()) return;
  const std::vector<std::string> commands = command_names(app);
  const CLI::App* cmd = subcommand_named(app, args[i]);
  if (cmd == nullptr) {
    const std::string guess = nearest(args[i], commands);
    throw UsageError("unknown command \"" + args[i] + "\"" + (guess.empty() ? "" : "; did you mean " + guess + "?") +
                     " (see `segkit --help`)");
  }
  for (size_t j = i + 1; j < args.size() && args[j] != "--"; ++j) {
    if (!is_flag(args[j])) continue;
    const std::string flag = args[j].substr(0, args[j].find('='));
    if (known(*cmd, flag) || known(app, flag)) continue;
    const std::string guess = nearest(strip_dashes(flag), long_option_names(*cmd));
    throw UsageError("unknown option " + flag + " for `segkit " + cmd->get_name() + "`" +
                     (guess.empty() ? "" : "; did you mean --" + guess + "?") + " (see `segkit " + cmd->get_name() +
                     " --help`)");
  }
}

std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& error,
                                 const std::vector<std::string>& args) {
  // The subcommand the words were for: the first argument that names one.
  const CLI::App* cmd = &app;
  std::string command = "segkit";
  for (const auto& arg : args) {
    if (const CLI::App* sub = subcommand_named(app, arg)) {
      cmd = sub;
      command += " " + arg;
      break;
    }
  }
  const std::string help = " (see `" + command + " --help`)";
  const std::string message = error.what();
  if (error.get_name() == "ExtrasError") {
    // "The following argument(s) was/were not expected: --tiles 8"
    std::istringstream words(message.substr(message.find(':') + 1));
    std::string word;
    words >> word;
    if (word.rfind("-", 0) == 0) {
      const std::string flag = word.substr(0, word.find('='));
      const std::string guess = nearest(strip_dashes(flag), long_option_names(*cmd));
      return "unknown option " + flag + " for `" + command + "`" +
             (guess.empty() ? "" : "; did you mean --" + guess + "?") + help;
    }
    if (cmd == &app) {
      const std::string guess = nearest(word, command_names(app));
      return "unknown command \"" + word + "\"" + (guess.empty() ? "" : "; did you mean " + guess + "?") + help;
    }
    return "unexpected argument \"" + word + "\" for `" + command + "`" + help;
  }
  if (error.get_name() == "RequiredError" && cmd == &app) {
    return "give a command: " + join(command_names(app)) + help;
  }
  return (cmd == &app ? "" : cmd->get_name() + ": ") + message + help;
}

}  // namespace segkit::cli
