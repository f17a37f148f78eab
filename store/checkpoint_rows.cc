#include "store/checkpoint_rows.h"

#include <algorithm>
#include <limits>
#include <string>

namespace tidemark::store {
namespace {

constexpr int64_t kLastId = std::numeric_limits<int64_t>::max();

template <typename Message>
StatusOr<Message> parseRow(const std::string& bytes, uint64_t id) {
  Message m;
  if (!m.ParseFromString(bytes)) {
    return dataLoss("checkpoint " + std::to_string(id) + ": manifest does not parse");
  }
  return m;
}

}  // namespace

StatusOr<Manifest> parseWholeRow(const std::string& bytes, uint64_t id) {
  return parseRow<Manifest>(bytes, id);
}

Status replayCheckpoints(Database& db, uint64_t from, uint64_t to, StateView& view,
                         const StateView::OnChange& on_change, const ChainVisit& visit) {
  int64_t start = 0;
  if (from > 0) {
    TM_ASSIGN_OR_RETURN(Statement base, db.prepare("SELECT max(id) FROM checkpoints WHERE id <= ? "
                                                   "AND base_id = 0"));
    TM_ASSIGN_OR_RETURN(bool row, base.bind(1, static_cast<int64_t>(from)).step());
    if (!row || base.columnIsNull(0)) {
      return dataLoss("checkpoint " + std::to_string(from) +
                      " has no whole manifest at or before it in the store");
    }
    start = base.columnInt(0);
  }
  TM_ASSIGN_OR_RETURN(Statement rows,
                      db.prepare("SELECT id, base_id, retained, manifest FROM checkpoints "
                                 "WHERE id >= ? AND id <= ? ORDER BY id"));
  rows.bind(1, start).bind(
      2, to > static_cast<uint64_t>(kLastId) ? kLastId : static_cast<int64_t>(to));
  std::optional<uint64_t> previous;
  while (true) {
    TM_ASSIGN_OR_RETURN(bool row, rows.step());
    if (!row) return Status::ok();
    const auto id = static_cast<uint64_t>(rows.columnInt(0));
    const auto base = static_cast<uint64_t>(rows.columnInt(1));
    const std::string bytes = rows.columnBlob(3);
    Manifest header;
    if (base == 0) {
      TM_ASSIGN_OR_RETURN(Manifest whole, parseWholeRow(bytes, id));
      view.reset(whole, on_change);
      copyHeader(whole, header);
    } else {
      if (previous != base) {
        return dataLoss("checkpoint " + std::to_string(id) + " changes checkpoint " +
                        std::to_string(base) + ", which the store does not hold before it");
      }
      TM_ASSIGN_OR_RETURN(ManifestDelta delta, parseRow<ManifestDelta>(bytes, id));
      TM_RETURN_IF_ERROR(view.apply(delta, on_change));
      header = std::move(*delta.mutable_header());
    }
    if (header.id() != id) {
      return dataLoss("checkpoint " + std::to_string(id) + ": its manifest names checkpoint " +
                      std::to_string(header.id()));
    }
    TM_RETURN_IF_ERROR(
        visit(ChainRow{id, base == 0, rows.columnInt(2) != 0, bytes.size(), &header}, view));
    previous = id;
  }
}

StatusOr<std::vector<CheckpointSummary>> readRetainedSummaries(Database& db) {
  TM_ASSIGN_OR_RETURN(Statement oldest,
                      db.prepare("SELECT min(id) FROM checkpoints WHERE retained != 0"));
  TM_ASSIGN_OR_RETURN(bool row, oldest.step());
  std::vector<CheckpointSummary> out;
  if (!row || oldest.columnIsNull(0)) return out;
  const auto from = static_cast<uint64_t>(oldest.columnInt(0));
  oldest.reset();
  // The view's key count and bytes, kept as each row changes it.
  int64_t keys = 0;
  uint64_t bytes = 0;
  auto track = [&](const StateRef* before, const StateRef* after) {
    if (before != nullptr) {
      --keys;
      bytes -= before->size();
    }
    if (after != nullptr) {
      ++keys;
      bytes += after->size();
    }
  };
  StateView view;
  TM_RETURN_IF_ERROR(replayCheckpoints(db, from, static_cast<uint64_t>(kLastId), view, track,
                                       [&](const ChainRow& r, const StateView&) {
                                         if (!r.retained) return Status::ok();
                                         CheckpointSummary s = summarize(*r.header);
                                         s.state_keys = keys;
                                         s.state_bytes = bytes;
                                         out.push_back(s);
                                         return Status::ok();
                                       }));
  std::reverse(out.begin(), out.end());
  return out;
}

StatusOr<std::optional<Manifest>> readRetainedCheckpoint(Database& db, uint64_t id) {
  TM_ASSIGN_OR_RETURN(Statement retained,
                      db.prepare("SELECT retained FROM checkpoints WHERE id = ?"));
  TM_ASSIGN_OR_RETURN(bool row, retained.bind(1, static_cast<int64_t>(id)).step());
  std::optional<Manifest> out;
  if (!row || retained.columnInt(0) == 0) return out;
  retained.reset();
  StateView view;
  TM_RETURN_IF_ERROR(
      replayCheckpoints(db, id, id, view, nullptr, [&](const ChainRow& r, const StateView& v) {
        if (r.id == id) out = v.manifest(*r.header);
        return Status::ok();
      }));
  return out;
}

}  // namespace tidemark::store
