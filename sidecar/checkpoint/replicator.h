#pragma once

// Replicates durable checkpoints to a remote backend (store/remote_backend.h)
// from the store's outbox. Only the newest queued checkpoint is uploaded: each
// checkpoint holds every offset and state key, so it supersedes the older
// ones, and after an outage the backlog costs one upload, not one per missed
// checkpoint. Blobs the remote already holds are not sent again; blobs the
// newest upload no longer references are deleted from the remote after it.
//
// Each upload also writes the checkpoint's partition records (store/
// partition_records.h), except those of fenced groups: a member the group
// coordinator called stale has lost its partitions, and must not write them.
// The blobs of this instance's partition records stay on the remote after
// the partition moved away (pinned) until another instance is seen to have
// written a newer record of it, at start or when the partition comes back.
//
// One upload at a time, on a thread of its own (remote round trips never
// block the loop or the store's thread); a failed upload is retried with
// backoff (1 s doubling to 30 s). Local checkpoints never wait for it,
// except in sync mode, where the coordinator asks whenReplicated().
// Loop thread only.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sidecar/checkpoint/store_worker.h"
#include "sidecar/event/worker_thread.h"
#include "sidecar/metrics/registry.h"
#include "store/remote_backend.h"

namespace tidemark::checkpoint {

class Replicator {
 public:
  Replicator(event::EventLoop& loop, std::unique_ptr<store::RemoteBackend> backend,
             std::string instance_id);
  ~Replicator();

  // Before the coordinator restores, on the calling thread (start-up blocks
  // here, as it must: nothing may be served before the state is back). Reads
  // the remote; imports its checkpoint into `store` when the local store is
  // empty or older; records what the remote holds, and queues the local
  // latest when it is newer. A remote that cannot be read is an error only
  // when the local store is empty (starting empty could contradict the
  // group's committed offsets); otherwise the local store is used.
  Status restoreInto(store::CheckpointStore& store);

  // From then on, uploads run through the coordinator's store worker.
  void start(StoreWorker& store);
  // A checkpoint became durable: upload the newest queued one.
  void kick();
  // Calls `done` once checkpoint `id` (or a newer one) is on the remote.
  void whenReplicated(uint64_t id, std::function<void(Status)> done);

  // Reads the newest remote checkpoint of each partition in `wanted` (on the
  // remote thread, after any upload in progress); `done` runs on the loop.
  using Loaded = StatusOr<std::map<store::GroupPartition, store::PartitionSnapshot>>;
  void loadPartitions(std::set<store::GroupPartition> wanted, std::function<void(Loaded)> done);
  // From now on, no partition record of `group` with a generation up to
  // `generation` is uploaded.
  void fence(const std::string& group, int32_t generation);

  // tidemark_remote_* metrics.
  void setMetrics(metrics::Registry& registry);

 private:
  struct Pending;
  void uploaded(std::shared_ptr<Pending> p, Status s, double seconds);
  void scheduleRetry();
  // `m`'s partition records, less those of fenced groups.
  std::vector<store::PartitionCheckpoint> recordsToUpload(const store::Manifest& m) const;
  std::map<std::string, uint64_t> pinnedBlobs() const;
  // Our own records of these partitions are superseded: unpin their blobs
  // and delete the records from the remote.
  void dropOwnRecords(const std::vector<store::GroupPartition>& partitions);

  event::EventLoop& loop_;
  std::unique_ptr<store::RemoteBackend> backend_;
  std::string instance_id_;
  std::map<std::string, int32_t> fenced_;  // group -> generation fenced up to
  // Blobs (hash -> size) our newest record of each partition references.
  std::map<store::GroupPartition, std::map<std::string, uint64_t>> pins_;
  // Blobs the remote's manifest record itself needs (a large manifest's).
  std::map<std::string, uint64_t> record_blobs_;
  StoreWorker* store_ = nullptr;
  std::unique_ptr<event::WorkerThread> remote_thread_;
  std::unique_ptr<event::Timer> retry_;
  bool in_flight_ = false;
  bool kicked_again_ = false;
  int consecutive_failures_ = 0;
  uint64_t replicated_id_ = 0;
  std::multimap<uint64_t, std::function<void(Status)>> waiters_;

  int64_t outbox_depth_ = 0;
  uint64_t outbox_bytes_ = 0;  // blob bytes the upload in progress or retried must send
  double last_success_unix_ = 0;
  metrics::Counter* uploads_ = nullptr;
  metrics::Counter* failures_ = nullptr;
  metrics::Counter* bytes_ = nullptr;
  metrics::Histogram* duration_ = nullptr;
};

}  // namespace tidemark::checkpoint
