#pragma once

// State that follows partitions, and fencing of stale owners (issue 5), on
// the loop thread.
//
// Ownership is per sidecar (checkpoint/group_ownership.h): the union of what
// the application's members of a group hold through it. When a SyncGroup
// answer assigns a member partitions that arrive from elsewhere (no member
// here held them in the previous generation), the answer is held while their
// newest checkpoints are read from the remote; one wins over what the book
// holds of the partition when its generation is newer (a stale owner's never
// does), and is adopted: its offset (stamped with the generation the member
// now holds it in) and its partition-scoped state. Without a remote, what the
// book holds of an arriving partition is dropped instead — it was processed
// elsewhere since — so OffsetFetch answers what the cluster has (unless the
// previous generation was not seen here, as after a restart: then the book's
// copy, restored from this instance's own checkpoint, stays). Partitions that
// go elsewhere stay in the book until they come back: they were checkpointed
// before the rebalance (JoinGroup waits for that), and their next arrival
// decides again.
//
// When the group coordinator calls a member stale, the member's partitions
// are no longer its, its commits are refused until it syncs again, and the
// replicator stops writing the group's records of that generation or older.

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sidecar/checkpoint/coordinator.h"
#include "sidecar/checkpoint/group_ownership.h"
#include "sidecar/checkpoint/replicator.h"
#include "sidecar/metrics/registry.h"

namespace tidemark::server {

class PartitionHandover {
 public:
  // `replicator` may be null (remote.mode off): nothing is loaded or fenced
  // on the remote; arriving partitions' stale copies are dropped.
  PartitionHandover(checkpoint::Coordinator& coordinator, checkpoint::Replicator* replicator,
                    metrics::Registry& metrics);

  void synced(const std::string& group, const std::string& member, int32_t generation);
  void assigned(const std::string& group, const std::string& member,
                const std::map<std::string, std::vector<int32_t>>& partitions,
                std::function<void(bool ok)> ready);
  void fenced(const std::string& group, const std::string& member, int32_t generation,
              int16_t error_code);
  bool isFenced(const std::string& group, const std::string& member) const {
    return fenced_.count({group, member}) > 0;
  }
  // Whether a member here holds the partition (see GroupOwnership::owns).
  bool owns(const checkpoint::PartitionId& id) const { return ownership_.owns(id); }

 private:
  void adopt(const std::string& group, const checkpoint::Replicator::Loaded& loaded,
             std::function<void(bool)> ready);

  checkpoint::Coordinator& coordinator_;
  checkpoint::Replicator* replicator_;
  metrics::Registry& metrics_;
  checkpoint::GroupOwnership ownership_;
  std::set<std::pair<std::string, std::string>> fenced_;        // (group, member)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for loads still running
};

}  // namespace tidemark::server
