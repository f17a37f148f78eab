#include "sidecar/checkpoint/checkpoint_json.h"

#include <string>

#include "sidecar/base/digest.h"

namespace tidemark::checkpoint {

using json = nlohmann::json;

json summaryJson(const store::CheckpointSummary& s) {
  return {{"id", std::to_string(s.id)}, {"created_at_ms", s.created_at_ms},
          {"trigger", s.trigger},       {"partitions", s.partitions},
          {"state_keys", s.state_keys}, {"state_bytes", s.state_bytes}};
}

json partitionJson(const store::v1::PartitionKey& p) {
  return {{"group", p.group()}, {"topic", p.topic()}, {"partition", p.partition()}};
}

json offsetJson(const store::v1::PartitionOffset& o) {
  json e = partitionJson(o.key());
  e["offset"] = o.offset();
  e["leader_epoch"] = o.leader_epoch();
  e["metadata"] = o.has_metadata() ? json(o.metadata()) : json(nullptr);
  return e;
}

json stateJson(const store::v1::StateRef& s) {
  json e = {{"key", s.key()},
            {"size", s.size()},
            {"sha256", toHex(s.sha256())},
            {"content_type", s.content_type()}};
  if (s.has_partition()) e["partition"] = partitionJson(s.partition());
  return e;
}

json detailJson(const store::v1::Manifest& m) {
  json j = summaryJson(store::summarize(m));
  j["job_id"] = m.job_id();
  j["offsets"] = json::array();
  for (const auto& o : m.offsets()) j["offsets"].push_back(offsetJson(o));
  j["state"] = json::array();
  for (const auto& s : m.state()) j["state"].push_back(stateJson(s));
  return j;
}

}  // namespace tidemark::checkpoint
