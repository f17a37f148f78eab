#pragma once

// Reading the checkpoints table of store format 4, where most rows hold the
// change from the row before them rather than a whole manifest
// (docs/store-format.md, "Manifests as changes"). Shared by the store and by
// readers of a store file another process owns (`tidemark checkpoints
// --store`), so there is one reading of the format.

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "store/checkpoint_summary.h"
#include "store/manifest_delta.h"
#include "store/sqlite.h"

namespace tidemark::store {

// One row as replayCheckpoints passes it.
struct ChainRow {
  uint64_t id = 0;
  bool whole = false;                // a whole manifest; otherwise a change from the row before
  bool retained = false;             // false: kept only because a retained row builds on it
  uint64_t bytes = 0;                // the row's manifest column
  const Manifest* header = nullptr;  // the checkpoint without its state
};
using ChainVisit = std::function<Status(const ChainRow& row, const StateView& view)>;

// A whole row's manifest column (every row of formats 1 to 3, and format 4's
// whole rows); DataLoss naming checkpoint `id` when it does not parse.
StatusOr<Manifest> parseWholeRow(const std::string& bytes, uint64_t id);

// Reads rows in id order, from the newest whole one at or before `from`
// (from == 0: the oldest row, which must be whole) through `to`; applies each
// to `view` (calling on_change for each key it changes), then visits it.
// DataLoss when a row does not parse, or a change's base row is missing.
Status replayCheckpoints(Database& db, uint64_t from, uint64_t to, StateView& view,
                         const StateView::OnChange& on_change, const ChainVisit& visit);

// Every retained checkpoint as its summary, newest first. Replays the chain
// once with one view: it costs the rows' changes and one whole manifest, not a
// manifest per retained checkpoint.
StatusOr<std::vector<CheckpointSummary>> readRetainedSummaries(Database& db);
// The retained checkpoint `id` as its whole manifest; nullopt when the store
// does not retain it.
StatusOr<std::optional<Manifest>> readRetainedCheckpoint(Database& db, uint64_t id);

}  // namespace tidemark::store
