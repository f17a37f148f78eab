#pragma once

// Which partitions of each consumer group the application's members hold
// through this sidecar, from their SyncGroup answers. An application may run
// several members of one group behind one sidecar (a consumer per thread or
// process in the pod), so ownership is the union over members, and a
// partition moving between two of them never leaves the sidecar.
//
// A partition *arrives* when a member is assigned it and no member here held
// it in the previous generation: it comes from another instance (or from
// nowhere yet), and what the sidecar holds of it may be stale. Members that
// did not sync for two generations are gone. Pure logic, loop thread only.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sidecar/checkpoint/state_book.h"

namespace tidemark::checkpoint {

class GroupOwnership {
 public:
  using Assignment = std::map<std::string, std::vector<int32_t>>;  // topic -> partitions

  struct Arrivals {
    std::set<PartitionId> partitions;
    // Whether the previous generation was seen here. After a restart it was
    // not: then every partition counts as arrived, though the sidecar may
    // well have been its owner.
    bool previous_known = false;
    // Assigned to this member and not held by it in the previous generation
    // (arrivals, and partitions moving between members here): writes staged
    // for them and never sealed came from their previous holder, whose
    // processing the new one replays from the sealed offset.
    std::set<PartitionId> gained;
  };

  // Member `member` of `group` synced in `generation` and was assigned
  // `partitions`.
  Arrivals assign(const std::string& group, const std::string& member, int32_t generation,
                  const Assignment& partitions);
  // The member is gone (the coordinator called it stale): it holds nothing
  // from now on. What it held still counts as held here in its generation:
  // when the next generation gives those partitions to a new member here (the
  // application's consumer rejoining after a pause or a network partition
  // got it expired), nobody else can have held them in between, so they do
  // not arrive and their sealed state and offsets stay.
  void drop(const std::string& group, const std::string& member);
  // Held by a member here. For a group no member synced through this sidecar
  // (an application marking offsets over HTTP), every partition counts.
  bool owns(const PartitionId& id) const;

 private:
  using Partition = std::pair<std::string, int32_t>;
  struct Member {
    int32_t generation = -1;
    std::set<Partition> partitions;
    bool dropped = false;  // owns nothing; `partitions` is what it held
  };
  struct Group {
    int32_t generation = -1;
    std::set<Partition> previous;  // what the members held in the previous generation
    std::map<std::string, Member> members;
  };
  std::map<std::string, Group> groups_;
};

}  // namespace tidemark::checkpoint
