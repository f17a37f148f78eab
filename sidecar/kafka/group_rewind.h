#pragma once

// Sets a consumer group's committed offsets on the cluster while the group
// has no active members: what `tidemark checkpoints restore` does to keep
// the cluster's offsets from running ahead of the rewound store, and how it
// learns whether the application still consumes. The commit is a "simple"
// one (no member id, generation -1), which Kafka accepts only for a group
// without active members. (The embedded cluster implements neither
// ListGroups nor DescribeGroups, so asking is not an option there.)

#include <chrono>
#include <string>
#include <vector>

#include "sidecar/base/status.h"
#include "sidecar/kafka/client_config.h"
#include "sidecar/kafka/group_committer.h"

namespace tidemark::kafka {

// Blocks up to `timeout`. FailedPrecondition when the group has active
// members (the cluster refused with UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION or
// REBALANCE_IN_PROGRESS); Unavailable when the cluster cannot be reached or
// refuses for another reason.
Status commitWhileIdle(const std::string& bootstrap_servers, const ClientTls& tls,
                       const std::string& group, const std::vector<GroupOffset>& offsets,
                       std::chrono::milliseconds timeout);

}  // namespace tidemark::kafka
