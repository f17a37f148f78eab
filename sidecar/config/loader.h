#pragma once

// Loads the sidecar's config: schema defaults, then a YAML file, then
// `--set path=value` overrides, each value checked against the rule on its
// field in protocol/config/config.proto. Every error is one line naming where
// the value came from, the field path and what was expected, e.g.
//   tidemark.yaml:7: checkpoint.interval: expected a non-negative duration ..., got "-5s"
//
// Not thread-aware: call at start, then share the resulting Config read-only.

#include <string>
#include <string_view>
#include <vector>

#include "protocol/config/config.pb.h"
#include "sidecar/base/status.h"

namespace tidemark::config {

using Config = v1::Config;

// One `--set path=value`; value is read as a YAML scalar or flow collection.
struct Override {
  std::string path;
  std::string value;
};
StatusOr<Override> parseOverride(std::string_view arg);

// Every field at its schema default; required fields without one stay empty.
Config defaults();

// `source` names the YAML text in error messages (normally its file path).
StatusOr<Config> loadYaml(std::string_view yaml, std::string_view source,
                          const std::vector<Override>& overrides = {});
StatusOr<Config> loadFile(const std::string& path, const std::vector<Override>& overrides = {});

// Loads defaults plus overrides only (no file); used by `tidemark dev`.
StatusOr<Config> loadOverrides(const std::vector<Override>& overrides);

// Rules that span fields (required fields, conflicting listeners).
Status validate(const Config& config, std::string_view source);

// The effective config as YAML, every field present, in schema order.
std::string renderYaml(const Config& config);

}  // namespace tidemark::config
