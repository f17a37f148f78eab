#pragma once

// The local store of sealed checkpoints. A checkpoint is a Manifest (offsets,
// state references, id, time, trigger) plus the state blobs it references,
// stored by content address (SHA-256) so an unchanged blob is written once.
//
// Contract:
// - commit() is atomic: after a crash at any point, a reader sees either the
//   previous checkpoints or the previous ones plus the new one, complete with
//   every blob it references. Nothing partial is ever visible.
// - compact() keeps only the newest `retained` checkpoints and deletes, in one
//   transaction, the blobs no kept checkpoint references; it also does the
//   store's other deferred housekeeping (folding SQLite's WAL into the
//   database). The owner calls it after answering for a commit: none of it is
//   on the path the application waits on. Until then a commit may leave
//   `retained` + 1 checkpoints.
// - Errors are Status values: ResourceExhausted (disk full),
//   FailedPrecondition (read-only), Unavailable (locked), DataLoss (corrupt).
//   A failed commit changes nothing; the caller may retry.
//
// Not thread-safe: one owner thread.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/store/checkpoint.pb.h"
#include "sidecar/base/digest.h"
#include "sidecar/base/status.h"
#include "store/checkpoint_summary.h"

namespace tidemark::store {

using Manifest = v1::Manifest;

// Gives the bytes of a blob the store asks for (by SHA-256), or nullopt if the
// caller has none (a bug: every StateRef's blob must be available).
using BlobSource = std::function<std::optional<std::string_view>(const std::string& sha256)>;

// What one commit wrote: new blob bytes, and bytes of blobs it referenced
// that were stored already (written once, by an earlier checkpoint).
struct CommitStats {
  uint64_t bytes_written = 0;
  uint64_t bytes_deduplicated = 0;
};

class CheckpointStore {
 public:
  virtual ~CheckpointStore() = default;

  virtual Status commit(const Manifest& manifest, const BlobSource& blobs) = 0;
  virtual Status compact() = 0;
  // The last successful commit's figures.
  virtual CommitStats lastCommit() const = 0;

  virtual StatusOr<std::optional<Manifest>> latest() = 0;
  virtual StatusOr<std::optional<Manifest>> get(uint64_t id) = 0;
  // Retained checkpoints, newest first, as summaries (get() reads one whole).
  virtual StatusOr<std::vector<CheckpointSummary>> summaries() = 0;
  // The blob with this SHA-256, verified against it: DataLoss when it does
  // not match, NotFound when the store does not hold it.
  virtual StatusOr<std::string> readBlob(const std::string& sha256) = 0;
  virtual StatusOr<bool> hasBlob(const std::string& sha256) = 0;

  // An id greater than every id this store has seen, and time-ordered:
  // max(latest + 1, now_ms * 1000), so ids grow across restarts and hosts.
  virtual StatusOr<uint64_t> nextId(int64_t now_ms) = 0;

  // ---- replication to a remote backend (store/remote_backend.h): an outbox
  // of checkpoints to upload, and what the remote is known to hold. The
  // newest queued checkpoint supersedes the others (each holds every offset
  // and state key), so only it is uploaded.

  // While on, every commit queues its checkpoint, in its own transaction.
  virtual void setReplicating(bool on) = 0;
  virtual StatusOr<std::optional<Manifest>> newestUnreplicated() = 0;
  virtual StatusOr<int64_t> outboxDepth() = 0;
  // The blobs `m` references that the remote is not known to hold.
  virtual StatusOr<std::vector<std::string>> blobsNotOnRemote(const Manifest& m) = 0;
  // The remote acknowledged `m`: dequeues it and everything older, records
  // its blobs as remote, and returns (hash -> size) the remote blobs that `m`
  // does not reference, no longer recorded, for the caller to forget. Blobs in
  // `pinned` (hash -> size) count as referenced: the remote still needs them
  // for something other than `m` (a partition checkpoint this instance wrote
  // for a partition it no longer holds). Durable before it returns: a blob
  // must never be forgotten while still recorded.
  virtual StatusOr<std::map<std::string, uint64_t>> markReplicated(
      const Manifest& m, const std::map<std::string, uint64_t>& pinned) = 0;
  // After reading the remote at start: records exactly `remote_blobs` as
  // what it holds, dequeues what `remote_latest_id` covers, and queues the
  // local latest checkpoint if it is newer.
  virtual Status syncRemoteView(const std::map<std::string, uint64_t>& remote_blobs,
                                uint64_t remote_latest_id) = 0;
};

// Blobs are addressed by SHA-256 (raw 32 bytes).
using ::tidemark::sha256;
using ::tidemark::toHex;

}  // namespace tidemark::store
