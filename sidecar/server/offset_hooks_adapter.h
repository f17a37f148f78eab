#pragma once

// The proxy's OffsetHooks over the checkpoint Coordinator: commits seal the
// staged state with the offsets, OffsetFetch reads the sealed view, and
// durability waits follow the coordinator's checkpoints (and, with a remote,
// its replication). Loop thread only.

#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "sidecar/checkpoint/coordinator.h"
#include "sidecar/proxy/offset_hooks.h"
#include "sidecar/server/partition_handover.h"

namespace tidemark::server {

class OffsetHooksAdapter : public proxy::OffsetHooks {
 public:
  // Mirror commits waiting for durability beyond this are dropped (oldest
  // first): the upstream mirror is best effort and must not grow without bound.
  static constexpr size_t kMaxWaiting = 10000;

  // `replicator` may be null (remote.mode off); with one, whenDurable also
  // waits until the checkpoint is on the remote.
  OffsetHooksAdapter(checkpoint::Coordinator& coordinator, PartitionHandover& handover,
                     checkpoint::Replicator* replicator, proxy::CommitMode mode);

  proxy::CommitMode commitMode() const override { return mode_; }
  uint64_t commit(const std::map<proxy::PartitionId, proxy::CommittedOffset>& offsets) override;
  std::optional<proxy::CommittedOffset> sealedOffset(const proxy::PartitionId& id) const override;
  void whenDurable(uint64_t seal, std::function<void(bool ok)> fn) override;
  void checkpointNow(const std::string& trigger, std::function<void(bool ok)> fn) override;
  void memberSynced(const std::string& group, const std::string& member_id,
                    int32_t generation) override {
    synced_.insert({group, member_id});
    handover_.synced(group, member_id, generation);
  }
  void assigned(const std::string& group, const std::string& member_id,
                const std::map<std::string, std::vector<int32_t>>& partitions,
                std::function<void(bool ok)> ready) override {
    handover_.assigned(group, member_id, partitions, std::move(ready));
  }
  void fenced(const std::string& group, const std::string& member_id, int32_t generation,
              int16_t error_code) override {
    handover_.fenced(group, member_id, generation, error_code);
  }
  bool knowsMember(const std::string& group, const std::string& member_id) const override {
    return synced_.count({group, member_id}) > 0 && !handover_.isFenced(group, member_id);
  }
  void stageTxnOffsets(
      const std::string& transactional_id,
      const std::map<proxy::PartitionId, proxy::CommittedOffset>& offsets) override;
  void endTxn(const std::string& transactional_id, bool committed,
              std::function<void(bool ok)> fn) override;

 private:
  struct Waiting {
    uint64_t seal;
    std::function<void(bool)> fn;
  };
  void release(uint64_t seal);  // mirrors up to `seal` may go upstream

  checkpoint::Coordinator& coordinator_;
  PartitionHandover& handover_;
  checkpoint::Replicator* replicator_;
  proxy::CommitMode mode_;
  uint64_t released_seal_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::deque<Waiting> waiting_;
  // Per transactional id: offsets of the open transaction, and the seal of a
  // committed one whose EndTxn is held until that seal is durable.
  std::map<std::string, std::map<proxy::PartitionId, proxy::CommittedOffset>> open_txns_;
  std::map<std::string, uint64_t> committing_txns_;
  std::set<std::pair<std::string, std::string>> synced_;  // (group, member id)
};

}  // namespace tidemark::server
