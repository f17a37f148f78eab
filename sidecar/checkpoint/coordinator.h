#pragma once

// The checkpoint coordinator, after Samza's commit and Flink's checkpointing:
// decides when to checkpoint, snapshots the sealed view of the StateBook, has
// the store write it in one transaction (on the StoreWorker), and tells the
// waiting parties when it is durable.
//
// Triggers: every `interval` while something was sealed since the last
// checkpoint; after `max_messages` processed messages; on request (HTTP,
// shutdown, rebalance). One checkpoint in flight at a time: triggers that
// arrive meanwhile coalesce into the next one (counted). `min_pause` spaces
// periodic checkpoints; a failure is retried with backoff, and the count of
// consecutive failures feeds readiness. A checkpoint not durable within
// `timeout` is failed (waiters hear so, the failure counts); the store
// transaction itself cannot be interrupted, so if it completes later it is
// recorded as the durable checkpoint it is, and nothing else starts meanwhile.
//
// With a `prepare` step (Samza's flow: ask the application for its offsets
// and state first), each checkpoint runs it before snapshotting the sealed
// view; a prepare failure is a checkpoint failure.
//
// Never checkpoints before restore() finished (Kafka Streams' lesson: an
// empty view would overwrite good offsets).
//
// Loop thread only.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sidecar/checkpoint/state_book.h"
#include "sidecar/checkpoint/store_worker.h"
#include "sidecar/event/event_loop.h"
#include "sidecar/metrics/registry.h"
#include "store/checkpoint_store.h"
#include "store/checkpoint_summary.h"

namespace tidemark::checkpoint {

struct CoordinatorOptions {
  std::string job_id;
  std::string instance_id;
  std::chrono::milliseconds interval{60000};
  std::chrono::milliseconds min_pause{0};
  uint64_t max_messages = 100000;  // 0: off
  uint32_t retained = 10;
  uint32_t tolerable_failures = 3;
  bool seal_immediately = false;
  std::chrono::milliseconds timeout{60000};
  uint64_t cache_bytes = 64ull << 20;  // state.cache_bytes
};

// Runs before each checkpoint snapshots the sealed view; calls `ready` once,
// on the loop thread, when the checkpoint may proceed (or why it cannot).
using PrepareStep =
    std::function<void(const std::string& trigger, std::function<void(Status)> ready)>;

struct CoordinatorStats {
  uint64_t taken = 0;
  uint64_t failed = 0;
  uint64_t coalesced = 0;
  uint64_t skipped = 0;  // periodic triggers with nothing new
  uint32_t consecutive_failures = 0;
  std::string last_error;  // why the latest attempt failed; empty once one completes
  std::optional<uint64_t> last_id;
  int64_t last_duration_us = 0;
  int64_t last_completed_ms = 0;
};

class Coordinator {
 public:
  using Done = std::function<void(StatusOr<uint64_t>)>;

  Coordinator(CoordinatorOptions options, event::EventLoop& loop,
              std::unique_ptr<store::CheckpointStore> store);
  ~Coordinator();

  // Loads the latest checkpoint's offsets and state index into the StateBook
  // (the state's bytes stay in the store until read). Call once, before serving.
  Status restore();
  // Starts the store worker and the periodic trigger.
  void start();

  StateBook& book() { return book_; }
  bool restored() const { return restored_; }
  const CoordinatorStats& stats() const { return stats_; }
  // Retained checkpoints, newest first.
  const std::vector<store::CheckpointSummary>& retained() const { return retained_; }
  // Reads the retained checkpoint `id` from the store, on its worker: nullopt
  // when it is not retained. `done` runs on the loop thread.
  void readCheckpoint(uint64_t id,
                      std::function<void(StatusOr<std::optional<store::Manifest>>)> done);

  // Gives `key`'s entry in `view` with its bytes: from memory, or read from
  // the store on its worker (verified against the entry's SHA-256) when only
  // the store holds them. NotFound if the view has no such key; DataLoss if
  // the store's bytes do not match. `done` runs on the loop thread, at once
  // when the bytes are in memory.
  void readState(const std::string& key, View view, std::function<void(StatusOr<StateEntry>)> done);

  // The application's offsets were sealed: counts processed messages for the
  // max_messages trigger.
  void onSealed(uint64_t processed);

  // Takes a checkpoint holding everything sealed so far; `done` gets its id
  // once durable (or the latest id at once if nothing changed since).
  void checkpoint(const std::string& trigger, Done done);

  // Runs `fn(seal)` each time a checkpoint holding seal number `seal` is durable.
  void onDurable(std::function<void(uint64_t seal)> fn) {
    durable_listeners_.push_back(std::move(fn));
  }
  uint64_t durableSeal() const { return durable_seal_; }

  // Seals offsets the application marked over HTTP (POST /v1/offsets,
  // /v1/commit, an app_callback answer) — not through Kafka — with the staged
  // state, and remembers them for onMarkedDurable.
  void sealMarked(const std::map<PartitionId, CommittedOffset>& offsets);
  // Runs `fn` with the marked offsets each durable checkpoint made durable
  // (newest per partition): they have no application connection to reach the
  // cluster's group offsets on, so the server sends them itself.
  void onMarkedDurable(std::function<void(const std::map<PartitionId, CommittedOffset>&)> fn) {
    marked_listener_ = std::move(fn);
  }

  // Publishes the checkpoint metrics (docs/operations.md) in `registry`.
  // Call before restore().
  void setMetrics(metrics::Registry& registry);

  // Installs the step run before every checkpoint. Call before start().
  void setPrepareStep(PrepareStep step) { prepare_ = std::move(step); }
  // Installs a step between "durable in the local store" and "complete"
  // (remote.mode: sync waits there for the remote). Call before start().
  using ReplicationStep = std::function<void(uint64_t id, std::function<void(Status)> done)>;
  void setReplicationStep(ReplicationStep step) { replicate_ = std::move(step); }

  // The store's worker thread, for other store users (after start()).
  StoreWorker& storeWorker() { return *worker_; }

 private:
  struct Waiter {
    uint64_t seal;
    Done done;
  };
  struct Result {
    Status status;
    // The checkpoint in one line (its trigger even when it failed); the
    // manifest itself, a term per state key, stays on the store worker.
    store::CheckpointSummary summary;
    int64_t duration_us = 0;
    store::CommitStats written;
  };
  void count(const std::string& trigger, const char* outcome);

  void maybeStart(const std::string& trigger);
  void run(const std::string& trigger);
  void commit(const std::string& trigger);
  void finish(uint64_t seal, Result result);
  void fail(const std::string& trigger, const Status& status);
  void onTimeout();
  void onInterval();

  CoordinatorOptions options_;
  event::EventLoop& loop_;
  std::unique_ptr<store::CheckpointStore> store_;
  std::unique_ptr<StoreWorker> worker_;
  StateBook book_;
  std::unique_ptr<event::Timer> interval_timer_;
  std::unique_ptr<event::Timer> retry_timer_;
  std::unique_ptr<event::Timer> timeout_timer_;
  PrepareStep prepare_;
  ReplicationStep replicate_;

  bool restored_ = false;
  bool in_flight_ = false;
  uint64_t attempt_ = 0;      // numbers checkpoint attempts
  bool timed_out_ = false;    // the attempt in flight was already failed
  bool committing_ = false;   // the attempt in flight reached the store
  bool replicating_ = false;  // ... and waits for the remote (sync mode)
  std::string running_trigger_;
  uint64_t durable_seal_ = 0;
  // This run's epoch: the latest checkpoint's + 1 (store.proto: writer_epoch).
  uint64_t writer_epoch_ = 1;
  uint64_t messages_since_ = 0;
  int64_t last_end_ms_ = 0;
  std::vector<Waiter> waiters_;
  // Summaries, not manifests: a manifest lists every state key, and ten of
  // them for 100,000 keys held some 260 MB.
  std::vector<store::CheckpointSummary> retained_;
  std::vector<std::function<void(uint64_t)>> durable_listeners_;
  struct Marked {
    CommittedOffset offset;
    uint64_t seal;
  };
  std::map<PartitionId, Marked> marked_;  // marked over HTTP, not yet durable
  std::function<void(const std::map<PartitionId, CommittedOffset>&)> marked_listener_;
  CoordinatorStats stats_;
  metrics::Registry* metrics_ = nullptr;
  metrics::Histogram* duration_ = nullptr;
  metrics::Counter* coalesced_ = nullptr;
  metrics::Counter* processed_ = nullptr;
  metrics::Counter* skipped_ = nullptr;
  metrics::Counter* bytes_written_ = nullptr;
  metrics::Counter* bytes_deduplicated_ = nullptr;
  metrics::Counter* reads_memory_ = nullptr;
  metrics::Counter* reads_store_ = nullptr;
  metrics::Counter* read_failures_ = nullptr;
  int64_t started_ms_ = 0;
};

// Milliseconds since the epoch (wall clock) and a monotonic microsecond clock.
int64_t nowMs();
int64_t monotonicUs();

}  // namespace tidemark::checkpoint
