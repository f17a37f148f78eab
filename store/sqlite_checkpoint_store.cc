#include "store/sqlite_checkpoint_store.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <google/protobuf/io/coded_stream.h>

#include "store/checkpoint_rows.h"

namespace tidemark::store {
namespace {

// The on-disk format, version 4. Specified in docs/store-format.md; any
// change is a new version with a migration in migrate().
constexpr const char* kSchema = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE blobs(
  id INTEGER PRIMARY KEY,
  sha256 BLOB NOT NULL,
  size INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE TABLE checkpoints(
  id INTEGER PRIMARY KEY,
  created_at_ms INTEGER NOT NULL,
  trigger TEXT NOT NULL,
  manifest BLOB NOT NULL,
  base_id INTEGER NOT NULL DEFAULT 0,
  retained INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE remote_outbox(
  checkpoint_id INTEGER PRIMARY KEY
);
CREATE TABLE remote_blobs(
  sha256 BLOB PRIMARY KEY,
  size INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES('format_version', '4');
)sql";

// Version 1 kept a reference table (and an index on it) beside the
// manifests, which already list every blob a checkpoint needs: two more
// randomly-keyed B-trees written per blob per checkpoint.
constexpr const char* kMigrate1To2 = R"sql(
DROP INDEX checkpoint_blobs_by_blob;
DROP TABLE checkpoint_blobs;
UPDATE meta SET value = '2' WHERE key = 'format_version';
)sql";

// Version 3 adds replication to a remote backend (the checkpoints waiting to
// be uploaded, the blobs known to be on the remote), and keys blobs by rowid:
// the store finds them by hash in memory, so the randomly-keyed hash index
// that every commit and prune rewrote goes.
constexpr const char* kMigrate2To3 = R"sql(
CREATE TABLE blobs_v3(id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL, size INTEGER NOT NULL,
                      data BLOB NOT NULL);
INSERT INTO blobs_v3(sha256, size, data) SELECT sha256, size, data FROM blobs;
DROP TABLE blobs;
ALTER TABLE blobs_v3 RENAME TO blobs;
CREATE TABLE remote_outbox(checkpoint_id INTEGER PRIMARY KEY);
CREATE TABLE remote_blobs(sha256 BLOB PRIMARY KEY, size INTEGER NOT NULL) WITHOUT ROWID;
UPDATE meta SET value = '3' WHERE key = 'format_version';
)sql";

// Version 4 stores most checkpoints as their change from the one before
// (base_id), and keeps older rows that a retained one builds on (retained =
// 0). Every row an older version wrote is a whole manifest, and retained.
constexpr const char* kMigrate3To4 = R"sql(
ALTER TABLE checkpoints ADD COLUMN base_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checkpoints ADD COLUMN retained INTEGER NOT NULL DEFAULT 1;
UPDATE meta SET value = '4' WHERE key = 'format_version';
)sql";

// What the integrity check at open covers: every table but the blobs. The
// blob table is nearly the whole file, and checking it would read all of it
// before the restore reads the newest checkpoint's blobs again; each blob is
// verified against its SHA-256 whenever it is read instead, and SQLite
// reports a damaged page of it (SQLITE_CORRUPT) when one is touched.
StatusOr<std::vector<std::string>> checkedTables(Database& db) {
  TM_ASSIGN_OR_RETURN(Statement st,
                      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                 "name != 'blobs' ORDER BY name"));
  std::vector<std::string> tables;
  while (true) {
    TM_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    tables.push_back(st.columnText(0));
  }
  return tables;
}

}  // namespace

StatusOr<std::unique_ptr<SqliteCheckpointStore>> SqliteCheckpointStore::open(
    const std::string& path, uint32_t retained) {
  TM_ASSIGN_OR_RETURN(auto db, Database::open(path, /*create=*/true));
  TM_ASSIGN_OR_RETURN(std::vector<std::string> tables, checkedTables(*db));
  TM_ASSIGN_OR_RETURN(std::string integrity, db->integrityCheck(tables));
  if (integrity != "ok") return dataLoss("integrity check failed: " + integrity);
  std::unique_ptr<SqliteCheckpointStore> store(
      new SqliteCheckpointStore(std::move(db), std::max<uint32_t>(retained, 1)));
  TM_RETURN_IF_ERROR(store->migrate());
  TM_RETURN_IF_ERROR(store->load());
  store->db_->takeOverWalCheckpoints();
  return store;
}

Status SqliteCheckpointStore::migrate() {
  TM_ASSIGN_OR_RETURN(Statement has_meta,
                      db_->prepare("SELECT count(*) FROM sqlite_master WHERE name = 'meta'"));
  TM_ASSIGN_OR_RETURN(bool row, has_meta.step());
  const bool fresh = !row || has_meta.columnInt(0) == 0;
  has_meta.reset();  // no statement may be reading while a migration drops tables
  if (fresh) {
    TM_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
    TM_RETURN_IF_ERROR(db_->exec(kSchema));
    return tx.commit();
  }
  TM_ASSIGN_OR_RETURN(Statement version,
                      db_->prepare("SELECT value FROM meta WHERE key = 'format_version'"));
  TM_ASSIGN_OR_RETURN(bool found, version.step());
  const std::string v = found ? version.columnText(0) : "";
  version.reset();
  if (v != "1" && v != "2" && v != "3" && v != std::to_string(kFormatVersion)) {
    return failedPrecondition("store format version '" + v +
                              "' is not one this tidemark reads (it reads 1 to 4)");
  }
  if (v == std::to_string(kFormatVersion)) return Status::ok();
  // Each step in its own transaction, oldest first: a crash between two
  // leaves a store of the intermediate version, which the next open continues.
  struct Step {
    const char* from;
    const char* sql;
  };
  for (const Step& step :
       {Step{"1", kMigrate1To2}, Step{"2", kMigrate2To3}, Step{"3", kMigrate3To4}}) {
    TM_ASSIGN_OR_RETURN(Statement now,
                        db_->prepare("SELECT value FROM meta WHERE key = 'format_version'"));
    TM_ASSIGN_OR_RETURN(bool has, now.step());
    const std::string at = has ? now.columnText(0) : "";
    now.reset();
    if (at != step.from) continue;
    TM_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
    TM_RETURN_IF_ERROR(db_->exec(step.sql).withPrefix(std::string("migrating format ") + step.from +
                                                      " to the next"));
    TM_RETURN_IF_ERROR(tx.commit());
  }
  migrated_from_ = std::stoi(v);
  return Status::ok();
}

// Where each stored blob is, then every checkpoint row replayed in order:
// which rows are whole and retained, the latest checkpoint, and each blob's
// references (docs/store-format.md, "Reading").
Status SqliteCheckpointStore::load() {
  TM_ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT id, sha256 FROM blobs"));
  while (true) {
    TM_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    blobs_[st.columnBlob(1)].row = st.columnInt(0);
  }
  st.reset();
  StateView view;
  uint64_t previous = 0;
  const Manifest* latest_header = nullptr;
  Manifest header;
  TM_RETURN_IF_ERROR(replayCheckpoints(
      *db_, 0, UINT64_MAX, view,
      [&](const StateRef* before, const StateRef* after) {
        if (after != nullptr) reference(blobs_.try_emplace(after->sha256()).first->second);
        if (before != nullptr) release(*before, previous);
      },
      [&](const ChainRow& r, const StateView&) {
        rows_[r.id] = Row{r.whole, r.retained};
        if (r.whole) {
          whole_bytes_ = r.bytes;
          chain_bytes_ = 0;
        } else {
          chain_bytes_ += r.bytes;
        }
        previous = r.id;
        header = *r.header;
        latest_header = &header;
        return Status::ok();
      }));
  if (latest_header != nullptr) latest_ = view.manifest(*latest_header);
  // A stored blob no checkpoint references (none should be: blobs and rows
  // are written and dropped together) goes with the next pruning.
  for (auto& entry : blobs_) {
    Blob& b = entry.second;
    if (b.live == 0 && !b.retired) {
      b.retired = true;
      retired_.emplace_front(0, &entry);  // 0: before every checkpoint
    }
  }
  TM_ASSIGN_OR_RETURN(Statement remote, db_->prepare("SELECT sha256, size FROM remote_blobs"));
  while (true) {
    TM_ASSIGN_OR_RETURN(bool row, remote.step());
    if (!row) break;
    remote_[remote.columnBlob(0)] = static_cast<uint64_t>(remote.columnInt(1));
  }
  return Status::ok();
}

void SqliteCheckpointStore::reference(Blob& b) {
  if (b.live++ == 0) b.retired = false;
}

void SqliteCheckpointStore::release(const StateRef& ref, uint64_t last_seen) {
  auto it = blobs_.find(ref.sha256());
  if (it == blobs_.end() || it->second.live == 0) return;  // never counted: nothing to undo
  Blob& b = it->second;
  if (--b.live > 0) return;
  b.retired = true;
  b.last_seen = last_seen;
  retired_.emplace_back(last_seen, &*it);  // last_seen never decreases
}

// The statements every commit runs, prepared once (preparing them per
// commit was a measurable share of a small checkpoint's cost).
Status SqliteCheckpointStore::prepareWrites() {
  if (writes_) return Status::ok();
  TM_ASSIGN_OR_RETURN(Statement put_blob,
                      db_->prepare("INSERT INTO blobs(sha256, size, data) VALUES(?, ?, ?)"));
  TM_ASSIGN_OR_RETURN(Statement put_checkpoint,
                      db_->prepare("INSERT INTO checkpoints(id, created_at_ms, trigger, manifest, "
                                   "base_id, retained) VALUES(?, ?, ?, ?, ?, 1)"));
  TM_ASSIGN_OR_RETURN(Statement drop_checkpoint,
                      db_->prepare("DELETE FROM checkpoints WHERE id = ?"));
  TM_ASSIGN_OR_RETURN(Statement unretain,
                      db_->prepare("UPDATE checkpoints SET retained = 0 WHERE id = ?"));
  TM_ASSIGN_OR_RETURN(Statement drop_blob, db_->prepare("DELETE FROM blobs WHERE id = ?"));
  TM_ASSIGN_OR_RETURN(Statement enqueue,
                      db_->prepare("INSERT OR IGNORE INTO remote_outbox(checkpoint_id) VALUES(?)"));
  TM_ASSIGN_OR_RETURN(Statement dequeue_dropped,
                      db_->prepare("DELETE FROM remote_outbox WHERE checkpoint_id = ?"));
  writes_.emplace(Writes{std::move(put_blob), std::move(put_checkpoint), std::move(drop_checkpoint),
                         std::move(unretain), std::move(drop_blob), std::move(enqueue),
                         std::move(dequeue_dropped)});
  return Status::ok();
}

// One transaction: the new blobs and the checkpoint row, which holds the
// change from the latest checkpoint, or the whole manifest once the changes
// stored since the last whole one add up to its size (so reading the latest
// never replays more than about twice a whole manifest). Dropping what falls
// out of retention is compact()'s, after the answer: it is not what the
// application waits for.
Status SqliteCheckpointStore::commit(const Manifest& manifest, const BlobSource& blobs) {
  const uint64_t id = manifest.id();
  if (!rows_.empty() && id <= rows_.rbegin()->first) {
    return internalError("checkpoint id " + std::to_string(id) + " is not newer than the latest");
  }
  static const Manifest kNone;
  TM_ASSIGN_OR_RETURN(StateDiff diff, diffState(latest_ ? *latest_ : kNone, manifest));
  // The change's size, estimated from its keys, decides before anything is
  // serialized: a state that changed entirely is encoded once, whole.
  const auto field = [](size_t n) {  // a length-delimited field's bytes: tag, length, value
    return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(n) + n;
  };
  uint64_t change_bytes = field(headerOf(manifest).ByteSizeLong());
  for (const StateChange& c : diff.changes) {
    change_bytes +=
        field(c.after != nullptr ? c.after->ByteSizeLong() : c.before->key().size() + 32);
  }
  const bool whole = !latest_ || chain_bytes_ + change_bytes >= whole_bytes_;
  std::string encoded;
  if (!(whole ? manifest.SerializeToString(&encoded)
              : toDelta(manifest, diff).SerializeToString(&encoded))) {
    return internalError("manifest does not serialize");
  }
  TM_RETURN_IF_ERROR(prepareWrites());
  // Each changed key's blob entry, found once: created here if new, and
  // forgotten again if the transaction fails.
  std::vector<BlobEntry*> referenced, created;
  std::vector<std::pair<BlobEntry*, int64_t>> new_rows;  // known once committed
  CommitStats stats;
  Status s = [&]() -> Status {
    TM_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
    Statement& put = writes_->put_blob;
    std::unordered_set<const BlobEntry*> written;
    for (const StateChange& change : diff.changes) {
      if (change.after == nullptr) continue;
      const StateRef& state = *change.after;
      auto [entry, added] = blobs_.try_emplace(state.sha256());
      if (added) created.push_back(&*entry);
      referenced.push_back(&*entry);
      const bool stored = entry->second.live > 0 || entry->second.row != 0;
      if (stored || !written.insert(&*entry).second) continue;  // stored once
      stats.bytes_written += state.size();
      auto data = blobs(state.sha256());
      if (!data) return internalError("no data for state blob " + state.key());
      put.reset();
      TM_RETURN_IF_ERROR(put.bindBlob(1, state.sha256())
                             .bind(2, static_cast<int64_t>(data->size()))
                             .bindBlob(3, *data)
                             .run());
      new_rows.emplace_back(&*entry, db_->lastInsertRowid());
    }
    Statement& cp = writes_->put_checkpoint;
    cp.reset();
    TM_RETURN_IF_ERROR(cp.bind(1, static_cast<int64_t>(id))
                           .bind(2, manifest.created_at_ms())
                           .bindText(3, manifest.trigger())
                           .bindBlob(4, encoded)
                           .bind(5, whole ? 0 : static_cast<int64_t>(latest_->id()))
                           .run());
    if (replicating_) {
      Statement& q = writes_->enqueue;
      q.reset();
      TM_RETURN_IF_ERROR(q.bind(1, static_cast<int64_t>(id)).run());
    }
    return tx.commit();
  }();
  if (!s.isOk()) {
    for (BlobEntry* e : created) blobs_.erase(blobs_.find(e->first));
    return s;
  }

  stats.bytes_deduplicated = diff.after_bytes - stats.bytes_written;
  last_commit_ = stats;
  for (const auto& [entry, row] : new_rows) entry->second.row = row;
  rows_[id] = Row{whole, true};
  chain_bytes_ = whole ? 0 : chain_bytes_ + encoded.size();
  if (whole) whole_bytes_ = encoded.size();
  // New references first: a blob that moved between keys stays referenced.
  const uint64_t previous = latest_ ? latest_->id() : 0;
  for (BlobEntry* e : referenced) reference(e->second);
  for (const StateChange& c : diff.changes) {
    if (c.before != nullptr) release(*c.before, previous);
  }
  if (latest_ && diff.aligned) {  // the same keys: update the changed ones in place
    for (const StateChange& c : diff.changes) *latest_->mutable_state(c.after_index) = *c.after;
    copyHeader(manifest, *latest_);
  } else {
    latest_ = manifest;
  }
  return Status::ok();
}

// After a commit was answered: drop what fell out of retention, then fold
// the WAL into the database once it has grown (SQLite's own automatic
// checkpoint is off: it would run inside a commit someone waits for).
Status SqliteCheckpointStore::compact() {
  TM_RETURN_IF_ERROR(prune());
  if (db_->walFrames() >= kWalCheckpointFrames) TM_RETURN_IF_ERROR(db_->checkpointWal());
  return Status::ok();
}

// One transaction: beyond the newest `retained_` checkpoints, the rows no
// retained one builds on are deleted and the others kept as links (retained
// = 0); the blobs whose newest referencing checkpoint left retention are
// deleted. It is committed without its own fsync (synchronous=NORMAL): the
// WAL keeps transactions in order, so it becomes durable with the next
// checkpoint's fsync, and a crash before that loses only the pruning, which
// the next prune() redoes. The in-memory bookkeeping changes only once the
// transaction has committed.
Status SqliteCheckpointStore::prune() {
  std::vector<uint64_t> retained;
  for (const auto& [id, row] : rows_) {
    if (row.retained) retained.push_back(id);
  }
  if (retained.size() <= retained_) return Status::ok();
  TM_RETURN_IF_ERROR(prepareWrites());
  const uint64_t oldest = retained[retained.size() - retained_];  // the oldest kept
  auto chain = rows_.find(oldest);  // back to the whole row the oldest kept one builds on
  while (!chain->second.whole) {
    if (chain == rows_.begin())
      return dataLoss("checkpoint " + std::to_string(oldest) + " has no whole manifest before it");
    --chain;
  }
  const uint64_t base = chain->first;
  std::vector<uint64_t> dropped, unretained;
  for (auto it = rows_.begin(); it != rows_.end() && it->first < oldest; ++it) {
    if (it->first < base) {
      dropped.push_back(it->first);
    } else if (it->second.retained) {
      unretained.push_back(it->first);
    }
  }
  std::unordered_set<BlobEntry*> unreferenced;  // a blob may be listed more than once
  size_t expired = 0;
  for (auto it = retired_.begin(); it != retired_.end() && it->first < oldest; ++it, ++expired) {
    const Blob& b = it->second->second;
    if (b.retired && b.last_seen == it->first) unreferenced.insert(it->second);
  }
  TM_RETURN_IF_ERROR(db_->exec("PRAGMA synchronous=NORMAL"));
  Status s = [&]() -> Status {
    TM_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
    Statement& dequeue = writes_->dequeue_dropped;  // superseded, and no longer retained
    for (const auto* ids : {&dropped, &unretained}) {
      for (uint64_t id : *ids) {
        Statement& change = ids == &dropped ? writes_->drop_checkpoint : writes_->unretain;
        change.reset();
        TM_RETURN_IF_ERROR(change.bind(1, static_cast<int64_t>(id)).run());
        dequeue.reset();
        TM_RETURN_IF_ERROR(dequeue.bind(1, static_cast<int64_t>(id)).run());
      }
    }
    Statement& gc = writes_->drop_blob;
    for (const BlobEntry* e : unreferenced) {
      if (e->second.row == 0) continue;  // never stored
      gc.reset();
      TM_RETURN_IF_ERROR(gc.bind(1, e->second.row).run());
    }
    return tx.commit();
  }();
  Status restored = db_->exec("PRAGMA synchronous=FULL");
  TM_RETURN_IF_ERROR(s);
  // Every later commit must fsync: refuse to go on without it.
  if (!restored.isOk()) return restored.withPrefix("restoring synchronous=FULL");
  for (uint64_t id : dropped) rows_.erase(id);
  for (uint64_t id : unretained) rows_[id].retained = false;
  retired_.erase(retired_.begin(), retired_.begin() + static_cast<std::ptrdiff_t>(expired));
  for (BlobEntry* e : unreferenced) blobs_.erase(blobs_.find(e->first));
  return Status::ok();
}

StatusOr<std::optional<Manifest>> SqliteCheckpointStore::latest() { return latest_; }

StatusOr<std::optional<Manifest>> SqliteCheckpointStore::get(uint64_t id) {
  if (latest_ && latest_->id() == id) return latest_;
  auto row = rows_.find(id);
  if (row == rows_.end() || !row->second.retained) return std::optional<Manifest>();
  return readRetainedCheckpoint(*db_, id);
}

StatusOr<std::vector<CheckpointSummary>> SqliteCheckpointStore::summaries() {
  return readRetainedSummaries(*db_);
}

StatusOr<std::string> SqliteCheckpointStore::readBlob(const std::string& hash) {
  auto blob = blobs_.find(hash);
  if (blob == blobs_.end() || blob->second.row == 0) return notFound("no blob " + toHex(hash));
  if (!read_blob_) {
    TM_ASSIGN_OR_RETURN(Statement prepared, db_->prepare("SELECT data FROM blobs WHERE id = ?"));
    read_blob_.emplace(std::move(prepared));
  }
  Statement& st = *read_blob_;
  st.reset();
  TM_ASSIGN_OR_RETURN(bool row, st.bind(1, blob->second.row).step());
  if (!row) return notFound("no blob " + toHex(hash));
  std::string data = st.columnBlob(0);
  st.reset();  // ends the read: a statement left mid-step holds the WAL snapshot
  if (sha256(data) != hash) return dataLoss("blob " + toHex(hash) + " does not match its hash");
  return data;
}

StatusOr<bool> SqliteCheckpointStore::hasBlob(const std::string& hash) {
  auto blob = blobs_.find(hash);
  return blob != blobs_.end() && blob->second.row != 0;
}

StatusOr<uint64_t> SqliteCheckpointStore::nextId(int64_t now_ms) {
  const uint64_t last = rows_.empty() ? 0 : rows_.rbegin()->first;
  return std::max(last + 1, static_cast<uint64_t>(std::max<int64_t>(now_ms, 0)) * 1000);
}

// ---- replication

StatusOr<std::optional<Manifest>> SqliteCheckpointStore::newestUnreplicated() {
  TM_ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT max(checkpoint_id) FROM remote_outbox"));
  TM_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row || st.columnIsNull(0)) return std::optional<Manifest>();
  return get(static_cast<uint64_t>(st.columnInt(0)));
}

StatusOr<int64_t> SqliteCheckpointStore::outboxDepth() {
  TM_ASSIGN_OR_RETURN(Statement st, db_->prepare("SELECT count(*) FROM remote_outbox"));
  TM_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.columnInt(0) : 0;
}

StatusOr<std::vector<std::string>> SqliteCheckpointStore::blobsNotOnRemote(const Manifest& m) {
  // Most blobs are on the remote already: only those that are not are
  // remembered, to name each once.
  std::unordered_set<std::string_view> missing;
  std::vector<std::string> out;
  for (const auto& ref : m.state()) {
    if (ref.size() == 0) continue;  // empty: no chunks
    if (remote_.find(std::string_view(ref.sha256())) != remote_.end()) continue;
    if (missing.insert(ref.sha256()).second) out.push_back(ref.sha256());
  }
  return out;
}

// One transaction: the outbox up to m, the blobs the remote now holds that it
// did not, and out of the view those neither m nor a pinned partition record
// references (returned: the caller deletes them from the remote). An
// unchanged checkpoint writes only its outbox row.
StatusOr<std::map<std::string, uint64_t>> SqliteCheckpointStore::markReplicated(
    const Manifest& m, const std::map<std::string, uint64_t>& pinned) {
  std::unordered_map<std::string_view, uint64_t> referenced;  // views into m and pinned
  referenced.reserve(pinned.size() + static_cast<size_t>(m.state_size()));
  for (const auto& [hash, size] : pinned) referenced.emplace(hash, size);
  for (const auto& ref : m.state()) {
    if (ref.size() > 0) referenced[ref.sha256()] = ref.size();
  }
  std::map<std::string, uint64_t> unreferenced;
  for (const auto& [hash, size] : remote_) {
    if (!referenced.count(hash)) unreferenced.emplace(hash, size);
  }
  std::vector<std::pair<std::string_view, uint64_t>> added;
  for (const auto& [hash, size] : referenced) {
    if (remote_.find(hash) == remote_.end()) added.emplace_back(hash, size);
  }
  TM_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
  TM_ASSIGN_OR_RETURN(Statement dequeue,
                      db_->prepare("DELETE FROM remote_outbox WHERE checkpoint_id <= ?"));
  TM_RETURN_IF_ERROR(dequeue.bind(1, static_cast<int64_t>(m.id())).run());
  TM_ASSIGN_OR_RETURN(Statement add, db_->prepare("INSERT OR IGNORE INTO remote_blobs(sha256, "
                                                  "size) VALUES(?, ?)"));
  for (const auto& [hash, size] : added) {
    add.reset();
    TM_RETURN_IF_ERROR(add.bindBlob(1, hash).bind(2, static_cast<int64_t>(size)).run());
  }
  TM_ASSIGN_OR_RETURN(Statement drop, db_->prepare("DELETE FROM remote_blobs WHERE sha256 = ?"));
  for (const auto& [hash, size] : unreferenced) {
    drop.reset();
    TM_RETURN_IF_ERROR(drop.bindBlob(1, hash).run());
  }
  TM_RETURN_IF_ERROR(tx.commit());
  for (const auto& [hash, size] : added) remote_.emplace(std::string(hash), size);
  for (const auto& [hash, size] : unreferenced) remote_.erase(remote_.find(std::string_view(hash)));
  return unreferenced;
}

Status SqliteCheckpointStore::syncRemoteView(const std::map<std::string, uint64_t>& remote_blobs,
                                             uint64_t remote_latest_id) {
  TM_ASSIGN_OR_RETURN(std::optional<Manifest> local, latest());
  TM_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(*db_));
  TM_RETURN_IF_ERROR(db_->exec("DELETE FROM remote_blobs"));
  TM_ASSIGN_OR_RETURN(Statement add,
                      db_->prepare("INSERT INTO remote_blobs(sha256, size) VALUES(?, ?)"));
  for (const auto& [hash, size] : remote_blobs) {
    add.reset();
    TM_RETURN_IF_ERROR(add.bindBlob(1, hash).bind(2, static_cast<int64_t>(size)).run());
  }
  TM_ASSIGN_OR_RETURN(Statement dequeue,
                      db_->prepare("DELETE FROM remote_outbox WHERE checkpoint_id <= ?"));
  TM_RETURN_IF_ERROR(dequeue.bind(1, static_cast<int64_t>(remote_latest_id)).run());
  if (local && local->id() > remote_latest_id) {
    TM_ASSIGN_OR_RETURN(Statement q, db_->prepare("INSERT OR IGNORE INTO remote_outbox("
                                                  "checkpoint_id) VALUES(?)"));
    TM_RETURN_IF_ERROR(q.bind(1, static_cast<int64_t>(local->id())).run());
  }
  TM_RETURN_IF_ERROR(tx.commit());
  remote_.clear();
  remote_.insert(remote_blobs.begin(), remote_blobs.end());
  return Status::ok();
}

}  // namespace tidemark::store
