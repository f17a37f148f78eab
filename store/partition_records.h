#pragma once

// Partition checkpoints: the per-partition records a remote backend keeps
// beside each instance's manifest, so that a partition's offset and state can
// follow it to whichever instance the group assigns it next (issue 5). Pure
// functions over the record format (protocol/store/remote.proto).

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/store/remote.pb.h"
#include "store/checkpoint_store.h"

namespace tidemark::store {

using PartitionCheckpoint = v1::RemotePartitionCheckpoint;

// A partition of a group, comparable (PartitionKey is a message).
struct GroupPartition {
  std::string group;
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const GroupPartition&) const = default;
};

GroupPartition groupPartition(const v1::PartitionKey& key);
v1::PartitionKey partitionKey(const GroupPartition& p);

// One record per partition `m` holds an offset or partition-scoped state
// for, in partition order. The generation is the offset's (-1 if unknown);
// the chunk size is left for the backend to set.
std::vector<PartitionCheckpoint> partitionRecords(const Manifest& m);

// The restore order: a higher generation wins (a stale owner never does);
// within one generation, the later checkpoint id.
bool newerThan(const PartitionCheckpoint& a, const PartitionCheckpoint& b);

}  // namespace tidemark::store
