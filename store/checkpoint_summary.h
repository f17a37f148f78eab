#pragma once

// A checkpoint in one line: what GET /v1/checkpoints and `tidemark
// checkpoints list` show. Kept instead of whole manifests where only this
// is needed: a manifest lists every state key.

#include <cstdint>
#include <string>

#include "protocol/store/checkpoint.pb.h"

namespace tidemark::store {

struct CheckpointSummary {
  uint64_t id = 0;
  int64_t created_at_ms = 0;
  std::string trigger;
  int64_t partitions = 0;
  int64_t state_keys = 0;
  uint64_t state_bytes = 0;
};

inline CheckpointSummary summarize(const v1::Manifest& m) {
  CheckpointSummary s{m.id(), m.created_at_ms(), m.trigger(), m.offsets_size(), m.state_size(), 0};
  for (const auto& ref : m.state()) s.state_bytes += ref.size();
  return s;
}

}  // namespace tidemark::store
