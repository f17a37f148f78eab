#pragma once

// CheckpointStore on a local SQLite database, format version 3
// (docs/store-format.md).

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/checkpoint_store.h"
#include "store/sqlite.h"

namespace tidemark::store {

class SqliteCheckpointStore : public CheckpointStore {
 public:
  static constexpr int kFormatVersion = 3;

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
  StatusOr<std::vector<Manifest>> list() override;
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
  Status loadReferences();
  Status prune();
  void track(uint64_t id, const Manifest& m);
  StatusOr<std::optional<Manifest>> queryOne(const std::string& sql, int64_t arg, bool bind);

  struct Writes {
    Statement put_blob, put_checkpoint, drop_checkpoint, drop_blob, enqueue, dequeue_dropped;
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
  // Every blob known by hash, once: its row (blobs are found here, not by an
  // index) and how many retained checkpoints reference it (a blob is stored
  // iff counted). Each checkpoint's references point at these entries, so a
  // checkpoint costs a pointer per key, not a copy of each hash: with 100,000
  // keys and 10 retained checkpoints, sets of hash strings were about 100 MiB
  // and most of a commit's CPU (allocation and comparisons).
  struct Blob {
    int64_t row = 0;  // 0: not stored (an empty manifest entry's)
    int64_t references = 0;
  };
  using Blobs = std::unordered_map<std::string, Blob>;
  using BlobEntry = Blobs::value_type;
  Blobs blobs_;
  // Retained checkpoint id -> the distinct blobs its manifest references.
  std::map<uint64_t, std::vector<BlobEntry*>> refs_;
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
