#pragma once

// Usage errors: the command line and config files checked before anything runs, each
// mistake one line with the nearest valid spelling.

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace segkit::cli {

/// Exit codes (README: "Exit codes").
enum ExitCode : int { kOk = 0, kInputError = 1, kUsageError = 2, kRuntimeError = 3 };

/// A mistake in how segkit was called: printed as "segkit: error: ..." with exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The candidate closest to `word` by edit distance (common synonyms first: "learning-rate"
/// is "lr"); empty when none is close enough to suggest.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

/// The long option names of `cmd` without their dashes ("lr", "val-images").
std::vector<std::string> long_option_names(const CLI::App& cmd);

/// The app's subcommands' names, in the order they were added.
std::vector<std::string> command_names(const CLI::App& app);

/// One meaningful line of a TOML/INI config file: a [section] header (key empty) or a
/// "key = value" line (quotes around the value dropped), with its number and its section
/// ("" before any header).
struct ConfigLine {
  int number = 0;
  std::string section, key, value;
};

/// The config file's lines; throws UsageError naming the file (and the line) when it cannot
/// be read or a line is neither a header nor a key = value.
std::vector<ConfigLine> read_config_file(const std::string& path);

/// Checks a config file against the app: every [section] a subcommand, every key one of its
/// long options. Throws UsageError naming the file, the line and the nearest valid name.
void check_config_file(const CLI::App& app, const std::string& path);

/// Checks the words of a command line before CLI11 parses them: the command must be one of
/// the app's subcommands and every flag one of its options (or the app's). Throws UsageError
/// with the nearest valid spelling; CLI11's own errors (a missing value) come later.
void check_arguments(const CLI::App& app, const std::vector<std::string>& args);

/// A parse error rephrased as one line with a "did you mean" where a flag was misspelled.
std::string describe_parse_error(const CLI::App& app, const CLI::ParseError& error,
                                 const std::vector<std::string>& args);

}  // namespace segkit::cli
