#pragma once

// CheckpointStore on a local SQLite database, format version 4
// (docs/store-format.md): most checkpoints are stored as their change from
// the one before, so a checkpoint writes what changed, not every key.

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/checkpoint_store.h"
#include "store/manifest_delta.h"
#include "store/sqlite.h"

namespace tidemark::store {

class SqliteCheckpointStore : public CheckpointStore {
 public:
  static constexpr int kFormatVersion = 4;

  // Opens or creates the store at `path`, migrates an older format, and runs
  // PRAGMA integrity_check of every table but the blobs (each blob is
  // verified against its hash when read): a corrupt file is refused
  // (DataLoss), never served. A file SQLite can only open read-only is
  // refused too (FailedPrecondition).
  static StatusOr<std::unique_ptr<SqliteCheckpointStore>> open(const std::string& path,
                                                               uint32_t retained);

  Status commit(const Manifest& manifest, const BlobSource& blobs) override;
  Status compact() override;
  // WAL size (pages) at which compact() checkpoints it: SQLite's default.
  static constexpr int kWalCheckpointFrames = 1000;
  CommitStats lastCommit() const override { return last_commit_; }
  StatusOr<std::optional<Manifest>> latest() override;
  StatusOr<std::optional<Manifest>> get(uint64_t id) override;
  StatusOr<std::vector<CheckpointSummary>> summaries() override;
  StatusOr<std::string> readBlob(const std::string& sha256) override;
  StatusOr<bool> hasBlob(const std::string& sha256) override;
  StatusOr<uint64_t> nextId(int64_t now_ms) override;

  void setReplicating(bool on) override { replicating_ = on; }
  StatusOr<std::optional<Manifest>> newestUnreplicated() override;
  StatusOr<int64_t> outboxDepth() override;
  StatusOr<std::vector<std::string>> blobsNotOnRemote(const Manifest& m) override;
  StatusOr<std::map<std::string, uint64_t>> markReplicated(
      const Manifest& m, const std::map<std::string, uint64_t>& pinned) override;
  Status syncRemoteView(const std::map<std::string, uint64_t>& remote_blobs,
                        uint64_t remote_latest_id) override;

  // The format version open() upgraded from (0: none), for the start-up log.
  int migratedFrom() const { return migrated_from_; }

 private:
  SqliteCheckpointStore(std::unique_ptr<Database> db, uint32_t retained)
      : db_(std::move(db)), retained_(retained) {}
  Status migrate();
  Status load();
  Status prune();
  // Blob reference counting: a blob is held while a key of the latest
  // checkpoint references it, and after that until the last checkpoint that
  // did falls out of retention.
  struct Blob;
  void reference(Blob& blob);
  void release(const StateRef& ref, uint64_t last_seen);

  struct Writes {
    Statement put_blob, put_checkpoint, drop_checkpoint, unretain, drop_blob, enqueue,
        dequeue_dropped;
  };
  Status prepareWrites();

  std::unique_ptr<Database> db_;
  std::optional<Writes> writes_;  // declared after db_: finalized before it closes
  // Reads a blob by row: on every GET of state outside the sidecar's cache.
  std::optional<Statement> read_blob_;  // likewise
  uint32_t retained_;
  int migrated_from_ = 0;
  bool replicating_ = false;
  CommitStats last_commit_;  // the format version open() upgraded, if any
  // The latest checkpoint, whole: the next commit is stored as its change
  // from it, and restore and upload read it without replaying the chain.
  std::optional<Manifest> latest_;
  // Every checkpoint row: retained ones, and older ones a retained one
  // builds on (links).
  struct Row {
    bool whole = false;
    bool retained = true;
  };
  std::map<uint64_t, Row> rows_;
  uint64_t whole_bytes_ = 0;  // the newest whole manifest's size
  uint64_t chain_bytes_ = 0;  // the changes stored after it
  // Every blob known by hash, once: its row (blobs are found here, not by an
  // index), how many keys of the latest checkpoint reference it, and, once
  // none does, the newest checkpoint that did (`last_seen`): the blob is
  // deleted when that checkpoint leaves retention. Counting this way costs
  // what a checkpoint changed, not a pass over every key.
  struct Blob {
    int64_t row = 0;  // 0: not stored (an empty manifest entry's)
    int64_t live = 0;
    bool retired = false;
    uint64_t last_seen = 0;
  };
  using Blobs = std::unordered_map<std::string, Blob>;
  using BlobEntry = Blobs::value_type;
  Blobs blobs_;
  // Unreferenced blobs in order of last_seen (appended as they retire, which
  // is in checkpoint order). An entry whose blob was referenced again since
  // (retired false, or another last_seen) is stale and skipped.
  std::deque<std::pair<uint64_t, BlobEntry*>> retired_;
  // The remote_blobs table (hash -> size), mirrored: every upload asks which
  // of a manifest's blobs the remote lacks and records what it now holds, and
  // answering that from SQLite cost a statement per key per upload.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, uint64_t, TextHash, std::equal_to<>> remote_;
};

}  // namespace tidemark::store
