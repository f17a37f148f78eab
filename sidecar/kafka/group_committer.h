#pragma once

// Commits group offsets to the upstream cluster with the sidecar's own
// librdkafka client: for offsets the application marked over HTTP, which
// have no application connection to travel on. One consumer handle per group
// that never joins it, so each commit is a "simple" one (generation -1, no
// member id): the cluster accepts it for groups with no active members
// (applications that assign partitions themselves) and refuses it for active
// ones (UNKNOWN_MEMBER_ID), whose members commit through the proxy anyway.
//
// librdkafka's threads never touch Tidemark state: each result is queued,
// librdkafka wakes the loop through a pipe, and the result is served on the
// loop thread. Loop thread only.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sidecar/base/status.h"
#include "sidecar/event/event_loop.h"
#include "sidecar/kafka/client_config.h"

namespace tidemark::kafka {

struct GroupOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;  // the next offset to read, as Kafka commits it
  int32_t leader_epoch = -1;
  std::string metadata;
};

class GroupCommitter {
 public:
  GroupCommitter(event::EventLoop& loop, std::string bootstrap_servers, ClientTls tls);
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // `done` runs on the loop thread with the outcome: OK, or the first
  // partition's error. Never called once the committer is destroyed.
  void commit(const std::string& group, const std::vector<GroupOffset>& offsets,
              std::function<void(Status)> done);

 private:
  struct Group;
  StatusOr<Group*> groupFor(const std::string& name);

  event::EventLoop& loop_;
  std::string bootstrap_;
  ClientTls tls_;
  std::map<std::string, std::unique_ptr<Group>> groups_;
};

}  // namespace tidemark::kafka
