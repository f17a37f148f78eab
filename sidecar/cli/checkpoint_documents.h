#pragma once

// The checkpoint documents of the sidecar's HTTP API (GET /v1/checkpoints and
// GET /v1/checkpoints/{id}, built by sidecar/checkpoint/checkpoint_json.h), as
// `tidemark checkpoints` writes and reads them. Offline sources build them
// from a store's manifests and online ones parse them from a sidecar's
// answers, so that `--json` prints the same documents either way.
//
// Contract: the *Json functions cannot fail. The *FromJson functions never
// throw: every field's type is checked before it is read, and a document that
// is not what this tidemark expects is a DataLoss status (see malformed()).
// All functions are pure and may be called from any thread.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sidecar/base/status.h"
#include "sidecar/checkpoint/checkpoint_json.h"
#include "store/checkpoint_store.h"
#include "store/checkpoint_summary.h"

namespace tidemark::cli {

// One row of GET /v1/checkpoints.
using Summary = store::CheckpointSummary;
inline Summary summaryOf(const store::Manifest& m) { return store::summarize(m); }

// A checkpoint id as given on the command line and as the API spells it:
// a decimal number, or "latest", returned as nullopt. InvalidArgument otherwise.
StatusOr<std::optional<uint64_t>> parseId(const std::string& text);

// Byte counts for people: "512 B", "1.5 KiB", up to TiB.
std::string humanBytes(uint64_t n);

// ---------------------------------------------------------------- to JSON

// The API's own documents (sidecar/checkpoint/checkpoint_json.h).
using checkpoint::detailJson;
using checkpoint::offsetJson;
using checkpoint::partitionJson;
using checkpoint::stateJson;
using checkpoint::summaryJson;

// ---------------------------------------------------------------- from JSON

// The DataLoss status for a sidecar answer that is not what this tidemark
// expects; `what` names the part that is wrong.
Status malformed(const std::string& what);

// The string field `name` of object `j`; malformed() when absent or not a string.
StatusOr<std::string> jsonString(const nlohmann::json& j, const char* name);

StatusOr<Summary> summaryFromJson(const nlohmann::json& j);
// The inverse of detailJson(); the manifest's format_version is 1.
StatusOr<store::Manifest> manifestFromJson(const nlohmann::json& j);

}  // namespace tidemark::cli
