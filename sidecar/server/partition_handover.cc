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

void PartitionHandover::synced(const std::string& group, const std::string& member,
                               int32_t generation) {
  fenced_.erase({group, member});
  coordinator_.book().setGeneration(group, generation);
}

void PartitionHandover::assigned(const std::string& group, const std::string& member,
                                 const std::map<std::string, std::vector<int32_t>>& partitions,
                                 std::function<void(bool)> ready) {
  checkpoint::StateBook& book = coordinator_.book();
  const int32_t generation = book.generation(group);
  auto arrivals = ownership_.assign(group, member, generation, partitions);
  for (const auto& id : arrivals.gained) book.dropStaged(id);
  size_t assigned = 0;
  for (const auto& [topic, list] : partitions) assigned += list.size();
  TM_LOG(Info, "offsets", "partitions assigned")
      .kv("group", group)
      .kv("member", member)
      .kv("generation", generation)
      .kv("assigned", assigned)
      .kv("arrived", arrivals.partitions.size());
  if (replicator_ == nullptr) {
    // No remote to ask: an arriving partition was processed elsewhere since
    // this sidecar last held it, so its copy here is stale.
    size_t dropped = 0;
    for (const auto& id : arrivals.partitions) {
      if (!arrivals.previous_known || !book.holds(id)) continue;
      book.adopt(id, std::nullopt, {});
      ++dropped;
    }
    if (dropped > 0) {
      TM_LOG(Info, "offsets", "dropped the stale copies of partitions arriving from elsewhere")
          .kv("group", group)
          .kv("dropped", dropped);
    }
    return ready(true);
  }
  if (arrivals.partitions.empty()) return ready(true);
  const auto started = std::chrono::steady_clock::now();
  std::set<store::GroupPartition> wanted;
  for (const auto& id : arrivals.partitions) wanted.insert({id.group, id.topic, id.partition});
  replicator_->loadPartitions(
      std::move(wanted), [this, alive = std::weak_ptr<bool>(alive_), group, started,
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
    return ready(false);  // the member rejoins; its next sync loads them again
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
      offset = checkpoint::committedOffset(snap.record.offset());
      // Held in this generation now.
      offset->generation = std::max(generation, snap.record.generation());
    }
    std::map<std::string, StateEntry> state;
    for (const auto& ref : snap.record.state()) {
      auto blob = snap.blobs.find(ref.sha256());
      std::string data = blob == snap.blobs.end() ? std::string() : blob->second;
      const uint64_t size = data.size();
      state[ref.key()] = {std::make_shared<const std::string>(std::move(data)), ref.sha256(),
                          ref.content_type(), size};
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

void PartitionHandover::fenced(const std::string& group, const std::string& member,
                               int32_t request_generation, int16_t error_code) {
  const int32_t generation = coordinator_.book().generation(group);
  if (request_generation >= 0 && request_generation < generation) return;  // late news
  if (!fenced_.insert({group, member}).second) return;
  ownership_.drop(group, member);
  if (replicator_ != nullptr) replicator_->fence(group, generation);
  metrics_
      .counter("tidemark_group_fenced_total",
               "Times the group coordinator called one of the application's members stale; "
               "the sidecar then stopped writing the group's partitions of that generation.",
               {{"group", group}})
      .inc();
  TM_LOG(Warn, "offsets",
         "the group coordinator says the member is stale: its partitions are no longer "
         "written, and its commits are refused until it rejoins")
      .kv("group", group)
      .kv("member", member)
      .kv("generation", generation)
      .kv("error_code", error_code);
}

}  // namespace tidemark::server
