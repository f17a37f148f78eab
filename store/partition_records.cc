#include "store/partition_records.h"

#include <map>

namespace tidemark::store {

GroupPartition groupPartition(const v1::PartitionKey& key) {
  return {key.group(), key.topic(), key.partition()};
}

v1::PartitionKey partitionKey(const GroupPartition& p) {
  v1::PartitionKey key;
  key.set_group(p.group);
  key.set_topic(p.topic);
  key.set_partition(p.partition);
  return key;
}

std::vector<PartitionCheckpoint> partitionRecords(const Manifest& m) {
  std::map<GroupPartition, PartitionCheckpoint> records;
  auto record = [&](const v1::PartitionKey& key) -> PartitionCheckpoint& {
    auto [it, fresh] = records.try_emplace(groupPartition(key));
    PartitionCheckpoint& r = it->second;
    if (fresh) {
      r.set_format_version(1);
      *r.mutable_partition() = key;
      r.set_generation(-1);
      r.set_instance_id(m.instance_id());
      r.set_writer_epoch(m.writer_epoch());
      r.set_checkpoint_id(m.id());
      r.set_created_at_ms(m.created_at_ms());
    }
    return r;
  };
  for (const auto& o : m.offsets()) {
    PartitionCheckpoint& r = record(o.key());
    *r.mutable_offset() = o;
    r.set_generation(o.has_generation() ? o.generation() : -1);
  }
  for (const auto& ref : m.state()) {
    if (ref.has_partition()) *record(ref.partition()).add_state() = ref;
  }
  std::vector<PartitionCheckpoint> out;
  out.reserve(records.size());
  for (auto& [key, r] : records) out.push_back(std::move(r));
  return out;
}

bool newerThan(const PartitionCheckpoint& a, const PartitionCheckpoint& b) {
  if (a.generation() != b.generation()) return a.generation() > b.generation();
  return a.checkpoint_id() > b.checkpoint_id();
}

}  // namespace tidemark::store
