#include "sidecar/server/offset_hooks_adapter.h"

#include "sidecar/base/log.h"

namespace tidemark::server {

OffsetHooksAdapter::OffsetHooksAdapter(checkpoint::Coordinator& coordinator,
                                       PartitionHandover& handover,
                                       checkpoint::Replicator* replicator, proxy::CommitMode mode)
    : coordinator_(coordinator), handover_(handover), replicator_(replicator), mode_(mode) {
  released_seal_ = coordinator_.durableSeal();
  coordinator_.onDurable([this](uint64_t durable) {
    const auto id = coordinator_.stats().last_id;
    if (replicator_ == nullptr || !id) return release(durable);
    // With a remote, the cluster's group offsets never run ahead of it
    // either: a partition without a remote record then has no committed
    // offset from us, and its next owner never pairs our offset with no state.
    replicator_->whenReplicated(*id,
                                [this, alive = std::weak_ptr<bool>(alive_), durable](Status s) {
                                  if (!alive.expired() && s.isOk()) release(durable);
                                });
  });
}

void OffsetHooksAdapter::release(uint64_t seal) {
  released_seal_ = std::max(released_seal_, seal);
  while (!waiting_.empty() && waiting_.front().seal <= released_seal_) {
    auto fn = std::move(waiting_.front().fn);
    waiting_.pop_front();
    fn(true);
  }
}

uint64_t OffsetHooksAdapter::commit(
    const std::map<proxy::PartitionId, proxy::CommittedOffset>& offsets) {
  const uint64_t processed = coordinator_.book().seal(offsets);
  coordinator_.onSealed(processed);
  return coordinator_.book().sealed().seal;
}

std::optional<proxy::CommittedOffset> OffsetHooksAdapter::sealedOffset(
    const proxy::PartitionId& id) const {
  const auto& offsets = coordinator_.book().sealed().offsets;
  auto it = offsets.find(id);
  if (it == offsets.end()) return std::nullopt;
  return it->second;
}

void OffsetHooksAdapter::whenDurable(uint64_t seal, std::function<void(bool)> fn) {
  if (seal <= released_seal_) return fn(true);
  // Seals only grow, so the queue stays sorted and resolves from the front.
  waiting_.push_back({seal, std::move(fn)});
  if (waiting_.size() > kMaxWaiting) {
    TM_LOG(Warn, "offsets",
           "too many commits waiting for a checkpoint: dropping the oldest mirror");
    auto oldest = std::move(waiting_.front().fn);
    waiting_.pop_front();
    oldest(false);
  }
}

void OffsetHooksAdapter::checkpointNow(const std::string& trigger, std::function<void(bool)> fn) {
  coordinator_.checkpoint(trigger, [fn = std::move(fn)](StatusOr<uint64_t> id) { fn(id.isOk()); });
}

void OffsetHooksAdapter::stageTxnOffsets(
    const std::string& transactional_id,
    const std::map<proxy::PartitionId, proxy::CommittedOffset>& offsets) {
  auto& open = open_txns_[transactional_id];
  for (const auto& [id, offset] : offsets) open[id] = offset;
}

void OffsetHooksAdapter::endTxn(const std::string& transactional_id, bool committed,
                                std::function<void(bool)> fn) {
  auto open = open_txns_.find(transactional_id);
  if (!committed) {
    if (open != open_txns_.end()) open_txns_.erase(open);
    committing_txns_.erase(transactional_id);
    return fn(true);
  }
  if (open != open_txns_.end()) {
    committing_txns_[transactional_id] = commit(open->second);
    open_txns_.erase(open);
  }
  auto it = committing_txns_.find(transactional_id);
  if (it == committing_txns_.end()) return fn(true);  // the transaction carried no offsets
  const uint64_t seal = it->second;
  if (seal <= coordinator_.durableSeal()) {
    committing_txns_.erase(it);
    return fn(true);
  }
  coordinator_.checkpoint(
      "transaction", [this, transactional_id, seal, fn = std::move(fn)](StatusOr<uint64_t> id) {
        const bool durable = id.isOk() && seal <= coordinator_.durableSeal();
        if (durable) committing_txns_.erase(transactional_id);
        fn(durable);
      });
}

}  // namespace tidemark::server
