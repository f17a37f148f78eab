#include "sidecar/checkpoint/group_ownership.h"

namespace tidemark::checkpoint {

GroupOwnership::Arrivals GroupOwnership::assign(const std::string& group, const std::string& member,
                                                int32_t generation, const Assignment& partitions) {
  Group& g = groups_[group];
  Arrivals out;
  out.previous_known = g.generation >= 0;
  if (generation > g.generation) {  // the first of this generation's syncs here
    out.previous_known = g.generation >= 0 && g.generation == generation - 1;
    g.previous.clear();
    // Only what members synced in the previous generation held. After a
    // generation this sidecar did not see no member synced in it, and
    // anything may have been anywhere meanwhile: every partition arrives.
    for (const auto& [id, m] : g.members) {
      if (m.generation == generation - 1) {
        g.previous.insert(m.partitions.begin(), m.partitions.end());
      }
    }
    std::erase_if(g.members, [&](const auto& m) { return m.second.generation < generation - 1; });
    g.generation = generation;
  }
  Member& m = g.members[member];
  // What the member held in the previous generation (a member that skipped
  // one, or is new, held nothing).
  std::set<Partition> before;
  if (!m.dropped && (m.generation == generation - 1 || m.generation == generation)) {
    before.swap(m.partitions);
  }
  m.dropped = false;
  m.generation = generation;
  m.partitions.clear();
  for (const auto& [topic, list] : partitions) {
    for (int32_t p : list) {
      m.partitions.emplace(topic, p);
      if (!g.previous.count({topic, p})) out.partitions.insert({group, topic, p});
      if (!before.count({topic, p})) out.gained.insert({group, topic, p});
    }
  }
  return out;
}

void GroupOwnership::drop(const std::string& group, const std::string& member) {
  auto g = groups_.find(group);
  if (g == groups_.end()) return;
  auto m = g->second.members.find(member);
  if (m != g->second.members.end()) m->second.dropped = true;
}

bool GroupOwnership::owns(const PartitionId& id) const {
  auto g = groups_.find(id.group);
  if (g == groups_.end()) return true;
  for (const auto& [name, m] : g->second.members) {
    if (!m.dropped && m.generation == g->second.generation &&
        m.partitions.count({id.topic, id.partition})) {
      return true;
    }
  }
  return false;
}

}  // namespace tidemark::checkpoint
