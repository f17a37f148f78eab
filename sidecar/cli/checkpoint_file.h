#pragma once

// Checkpoint files: one checkpoint and every state blob it references, in
// one self-contained file (format: docs/operations.md, "Checkpoint files"),
// written by `tidemark checkpoints export` and read by `... import`.
//
// Contract: both functions block until done and report failure as a Status,
// never by exiting; on success each prints one summary line on stdout, and
// a large state (16 MiB or more) shows its progress on stderr in at most four
// lines.

#include <cstdint>
#include <optional>
#include <string>

#include "sidecar/base/status.h"
#include "sidecar/cli/checkpoint_sources.h"

namespace tidemark::cli {

// Writes checkpoint `id` of `source` (its newest when nullopt) to `file`.
// Reads the store without changing it, so it is safe while a sidecar runs.
// `file` is replaced only once the new one is complete and synced: it is
// either the previous file or the whole new one, never a part.
Status exportCheckpoint(StoreSource& source, std::optional<uint64_t> id, const std::string& file);

// Verifies `file` completely (every blob against its SHA-256, nothing
// missing, truncated or appended) before changing anything, then adds its
// checkpoint to the store at `store_path` as the newest one, with a new id,
// the current time and trigger "import"; creates the store if it does not
// exist. FailedPrecondition while another process has the store open: import
// is meant for a stopped sidecar. Never prunes older checkpoints.
Status importCheckpoint(const std::string& store_path, const std::string& file);

}  // namespace tidemark::cli
