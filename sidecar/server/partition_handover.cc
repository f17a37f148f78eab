#include "sidecar/server/partition_handover.h"

#include <chrono>

#include "sidecar/base/log.h"

namespace tidemark::server {

using checkpoint::CommittedOffset;
using checkpoint::PartitionId;
using checkpoint::StateEntry;

PartitionHandover::PartitionHandover(checkpoint::Coordinator& coordinator,
                                     checkpoint::Replicator* replicator, metrics::Registry& metrics)
    : coordinator_(coordinator), replicator_(replicator), metrics_(metrics) {}

void PartitionHandover::synced(const std::string& group, int32_t generation) {
  fenced_.erase(group);
  coordinator_.book().setGeneration(group, generation);
}

void PartitionHandover::assigned(const std::string& group,
                                 const std::map<std::string, std::vector<int32_t>>& partitions,
                                 std::function<void(bool)> ready) {
  auto& held = held_[group];
  std::set<std::pair<std::string, int32_t>> now;
  std::set<store::GroupPartition> arrived;
  for (const auto& [topic, list] : partitions) {
    for (int32_t p : list) {
      now.emplace(topic, p);
      if (!held.count({topic, p})) arrived.insert({group, topic, p});
    }
  }
  held = std::move(now);
  const size_t forgotten = coordinator_.book().keepOnly(group, partitions);
  TM_LOG(Info, "offsets", "partitions assigned")
      .kv("group", group)
      .kv("generation", coordinator_.book().generation(group))
      .kv("assigned", held.size())
      .kv("arrived", arrived.size())
      .kv("forgotten", forgotten);
  if (replicator_ == nullptr || arrived.empty()) return ready(true);
  const auto started = std::chrono::steady_clock::now();
  replicator_->loadPartitions(
      std::move(arrived),
      [this, alive = std::weak_ptr<bool>(alive_), group, started,
       ready = std::move(ready)](checkpoint::Replicator::Loaded loaded) mutable {
        if (alive.expired()) return;
        metrics_
            .histogram("tidemark_partition_load_duration_seconds",
                       "Time to read arriving partitions' checkpoints from the remote, while "
                       "the application's SyncGroup answer waits.",
                       metrics::exponentialBounds(0.001, 2, 16))
            .observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        adopt(group, loaded, std::move(ready));
      });
}

void PartitionHandover::adopt(const std::string& group,
                              const checkpoint::Replicator::Loaded& loaded,
                              std::function<void(bool)> ready) {
  if (!loaded.isOk()) {
    TM_LOG(Warn, "offsets",
           "cannot load the arriving partitions' checkpoints from the remote: the application "
           "is asked to rejoin")
        .kv("group", group)
        .kv("error", loaded.status().toString());
    metrics_
        .counter("tidemark_partition_load_failures_total",
                 "Assignments whose partitions' remote checkpoints could not be read (the "
                 "member was asked to rejoin).")
        .inc();
    held_.erase(group);  // load them all again next time
    return ready(false);
  }
  checkpoint::StateBook& book = coordinator_.book();
  const int32_t generation = book.generation(group);
  size_t adopted = 0;
  for (const auto& [p, snap] : *loaded) {
    const PartitionId id{p.group, p.topic, p.partition};
    const auto& sealed = book.sealed().offsets;
    auto local = sealed.find(id);
    const int32_t local_generation = local == sealed.end() ? -1 : local->second.generation;
    // What the book holds wins unless the remote's is of a newer generation
    // (ours, or this instance's own earlier checkpoint of the same one).
    if (book.holds(id) && snap.record.generation() <= local_generation) continue;
    std::optional<CommittedOffset> offset;
    if (snap.record.has_offset()) {
      const auto& o = snap.record.offset();
      offset = CommittedOffset{
          o.offset(), o.leader_epoch(),
          o.has_metadata() ? std::optional<std::string>(o.metadata()) : std::nullopt,
          std::max(generation, snap.record.generation())};
    }
    std::map<std::string, StateEntry> state;
    for (const auto& ref : snap.record.state()) {
      auto blob = snap.blobs.find(ref.sha256());
      std::string data = blob == snap.blobs.end() ? std::string() : blob->second;
      state[ref.key()] = {std::make_shared<const std::string>(std::move(data)), ref.sha256(),
                          ref.content_type()};
    }
    book.adopt(id, std::move(offset), std::move(state));
    ++adopted;
    TM_LOG(Info, "offsets", "partition checkpoint loaded from the remote")
        .kv("group", p.group)
        .kv("topic", p.topic)
        .kv("partition", p.partition)
        .kv("writer", snap.record.instance_id())
        .kv("generation", snap.record.generation())
        .kv("checkpoint", snap.record.checkpoint_id())
        .kv("offset", snap.record.has_offset() ? snap.record.offset().offset() : -1)
        .kv("state_keys", snap.record.state_size());
  }
  if (adopted > 0) {
    metrics_
        .counter("tidemark_partitions_adopted_total",
                 "Partitions whose checkpoint was loaded from the remote on assignment.")
        .inc(static_cast<double>(adopted));
  }
  ready(true);
}

void PartitionHandover::fenced(const std::string& group, int32_t request_generation,
                               int16_t error_code) {
  checkpoint::StateBook& book = coordinator_.book();
  const int32_t generation = book.generation(group);
  if (request_generation >= 0 && request_generation < generation) return;  // late news
  if (!fenced_.insert(group).second) return;
  const size_t forgotten = book.keepOnly(group, {});
  held_.erase(group);
  if (replicator_ != nullptr) replicator_->fence(group, generation);
  metrics_
      .counter("tidemark_group_fenced_total",
               "Times the group coordinator called the application's member stale; the "
               "sidecar then stopped writing the group's partitions until it synced again.",
               {{"group", group}})
      .inc();
  TM_LOG(Warn, "offsets",
         "the group coordinator says the member is stale: its partitions are no longer "
         "written")
      .kv("group", group)
      .kv("generation", generation)
      .kv("error_code", error_code)
      .kv("forgotten", forgotten);
}

}  // namespace tidemark::server
