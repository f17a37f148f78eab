#pragma once

// State that follows partitions, and fencing of stale owners (issue 5), on
// the loop thread.
//
// The application's member holds each group's partitions in a generation
// (its SyncGroup's). When a SyncGroup answer assigns it partitions it did not
// hold, their newest checkpoints are read from the remote before the answer
// goes on; one wins over what the book holds of the partition when its
// generation is newer (a stale owner's never does), and is adopted: its
// offset (stamped with the new generation, as it is held under that now) and
// its partition-scoped state. Partitions that went are forgotten (they were
// checkpointed before the rebalance: JoinGroup waits for that).
//
// When the group coordinator calls the member stale, every partition of the
// group is forgotten and the replicator stops writing the group's records of
// that generation or older, until the member syncs again.

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
  // on the remote, only forgotten locally.
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
