#pragma once

// What the proxy asks of the checkpoint side when the application commits or
// fetches group offsets, or is about to rebalance. Implemented by the server
// over the checkpoint Coordinator; the proxy never sees the store. Loop thread
// only. May be absent (pure proxy): then offsets pass through untouched.

#include <functional>
#include <map>
#include <optional>

#include "sidecar/checkpoint/state_book.h"

namespace tidemark::proxy {

using checkpoint::CommittedOffset;
using checkpoint::PartitionId;

enum class CommitMode {
  kCheckpoint,  // answer the app once recorded; mirror upstream once durable
  kSync,        // hold the app's commit until durable, then forward it
};

class OffsetHooks {
 public:
  virtual ~OffsetHooks() = default;

  virtual CommitMode commitMode() const = 0;

  // The application committed `offsets` (OffsetCommit or TxnOffsetCommit):
  // seal them with the staged state. Returns the seal number.
  virtual uint64_t commit(const std::map<PartitionId, CommittedOffset>& offsets) = 0;

  // The latest sealed offset of a partition, if the sidecar knows it.
  virtual std::optional<CommittedOffset> sealedOffset(const PartitionId& id) const = 0;

  // Calls `fn` once a checkpoint holding seal number `seal` is durable, or
  // with ok=false if that checkpoint failed.
  virtual void whenDurable(uint64_t seal, std::function<void(bool ok)> fn) = 0;

  // Takes a checkpoint of everything sealed so far (a rebalance is coming);
  // `fn` runs when it is durable or failed.
  virtual void checkpointNow(const std::string& trigger, std::function<void(bool ok)> fn) = 0;

  // A group member synced (SyncGroup) through this sidecar instance, in
  // generation `generation`.
  virtual void memberSynced(const std::string& group, const std::string& member_id,
                            int32_t generation) = 0;
  // The group's coordinator assigned the application's member these
  // partitions (the SyncGroup answer); `ready(ok)` says when the answer may
  // go on. Partitions arriving from elsewhere are first loaded from the
  // remote checkpoints when a newer generation holds them there (state
  // follows partitions), so the application's assignment callback and
  // OffsetFetch see the partition's latest checkpoint; without a remote, the
  // sidecar's stale copy of them is dropped (server/partition_handover.h).
  // ok=false: they could not be loaded; the application must not start on
  // them (the proxy makes it rejoin).
  virtual void assigned(const std::string& group, const std::string& member_id,
                        const std::map<std::string, std::vector<int32_t>>& partitions,
                        std::function<void(bool ok)> ready) = 0;
  // The group's coordinator told the application's member `member_id` it is stale
  // (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
  // STALE_MEMBER_EPOCH), answering a request of `generation` (-1: unknown):
  // its partitions belong to others now. The sidecar stops writing for them
  // until the member syncs again. An answer to a request of a generation
  // older than the one the member synced since is late news, and ignored.
  virtual void fenced(const std::string& group, const std::string& member_id, int32_t generation,
                      int16_t error_code) = 0;
  // Whether `member_id` synced through this sidecar instance (and was not
  // fenced since). A member that joined before this instance started may
  // hold state with writes this instance never received (they died with its
  // predecessor), and a fenced one lost its partitions, so their commits are
  // refused until they rejoin and reload the sealed state.
  virtual bool knowsMember(const std::string& group, const std::string& member_id) const = 0;

  // Offsets a transactional producer sent with TxnOffsetCommit inside
  // transaction `transactional_id`: kept aside, not sealed, until it ends.
  virtual void stageTxnOffsets(const std::string& transactional_id,
                               const std::map<PartitionId, CommittedOffset>& offsets) = 0;

  // The transaction ends (EndTxn). Aborted: its offsets are forgotten and
  // `fn(true)` runs at once. Committed: its offsets are sealed with the staged
  // state, and `fn(ok)` runs once a checkpoint holding them is durable (or
  // failed; the producer retries EndTxn, which then waits for that same seal).
  virtual void endTxn(const std::string& transactional_id, bool committed,
                      std::function<void(bool ok)> fn) = 0;
};

}  // namespace tidemark::proxy
