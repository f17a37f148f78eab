#pragma once

// An application's commit: the offsets it has processed and the state that
// goes with them, in one JSON document. The same shape arrives as the body
// of POST /v1/commit and as the application's answer to checkpoint.app_callback:
//
//   {"offsets": [{"group", "topic", "partition", "offset",
//                 "leader_epoch"?, "metadata"?}, ...],
//    "state": {"put": {key: base64 bytes, ...}, "delete": [key, ...]}}
//
// Parsing validates everything first, so a commit applies whole or not at all.

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sidecar/checkpoint/coordinator.h"

namespace tidemark::checkpoint {

struct AppCommit {
  std::map<PartitionId, CommittedOffset> offsets;
  std::vector<std::pair<std::string, std::string>> puts;  // key, bytes
  std::vector<std::string> deletes;
};

// Why a document is not a commit: `code` is the HTTP API's error code
// (malformed_json, invalid_offsets, invalid_key, invalid_commit: 400;
// payload_too_large: 413).
struct CommitError {
  int status = 400;
  std::string code;
  std::string message;
};

// Parses a whole commit document; each state value may hold at most
// `max_value_bytes` (http.max_blob_bytes, as for a PUT). On failure returns
// nullopt and fills `error`.
std::optional<AppCommit> parseAppCommit(std::string_view body, size_t max_value_bytes,
                                        CommitError& error);

// The offsets list alone ([{group, topic, partition, offset, ...}, ...]).
StatusOr<std::map<PartitionId, CommittedOffset>> parseOffsets(const nlohmann::json& list);

// Stages the state changes, then seals them with the offsets (as offsets
// the application marked itself: see Coordinator::sealMarked).
void applyAppCommit(Coordinator& coordinator, AppCommit commit);

// Strict base64 (RFC 4648, padding required); nullopt when malformed.
std::optional<std::string> base64Decode(std::string_view in);

}  // namespace tidemark::checkpoint
