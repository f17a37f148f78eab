#pragma once

// A small, strict command-line parser: known flags only, `--flag value` or
// `--flag=value`, repeatable flags collected in order. Errors are one line for
// the user and mean exit code 2.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "sidecar/base/status.h"

namespace tidemark::cli {

struct FlagSpec {
  std::string name;  // without dashes: "config"
  bool takes_value = true;
  bool repeatable = false;
};

struct Args {
  std::map<std::string, std::vector<std::string>> values;  // flag -> values in order
  std::set<std::string> present;                           // flags seen, valued or not
  std::vector<std::string> positional;

  bool has(const std::string& flag) const { return present.count(flag) > 0; }
  std::string get(const std::string& flag, const std::string& fallback = "") const;
  const std::vector<std::string>& all(const std::string& flag) const;
};

// Parses argv[begin..]; "--help"/"-h" is always accepted and recorded as "help".
StatusOr<Args> parseArgs(const std::vector<std::string>& argv, const std::vector<FlagSpec>& specs);

}  // namespace tidemark::cli
