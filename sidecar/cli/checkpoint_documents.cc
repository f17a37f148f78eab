#include "sidecar/cli/checkpoint_documents.h"

#include <cstdio>
#include <string>

#include "sidecar/base/digest.h"
#include "sidecar/config/scalars.h"

namespace tidemark::cli {

using json = nlohmann::json;
using store::Manifest;
using store::v1::PartitionOffset;
using store::v1::StateRef;

namespace {

StatusOr<int64_t> jsonInt(const json& j, const char* name) {
  auto it = j.is_object() ? j.find(name) : j.end();
  if (it == j.end() || !it->is_number_integer()) {
    return malformed(std::string(name) + " is not an integer");
  }
  return it->get<int64_t>();
}

StatusOr<uint64_t> jsonId(const json& j) {
  TM_ASSIGN_OR_RETURN(std::string text, jsonString(j, "id"));
  auto id = parseId(text);
  if (!id.isOk() || !*id) return malformed("id " + text);
  return **id;
}

Status partitionFromJson(const json& j, store::v1::PartitionKey* p) {
  TM_ASSIGN_OR_RETURN(*p->mutable_group(), jsonString(j, "group"));
  TM_ASSIGN_OR_RETURN(*p->mutable_topic(), jsonString(j, "topic"));
  TM_ASSIGN_OR_RETURN(int64_t partition, jsonInt(j, "partition"));
  p->set_partition(static_cast<int32_t>(partition));
  return Status::ok();
}

StatusOr<std::string> fromHex(const std::string& hex) {
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return malformed("sha256 " + hex);
  }
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

}  // namespace

StatusOr<std::optional<uint64_t>> parseId(const std::string& text) {
  if (text == "latest") return std::optional<uint64_t>();
  auto id = config::parseUint(text);
  if (!id.isOk() || text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    return invalidArgument("'" + text + "' is not a checkpoint id (a decimal number, or latest)");
  }
  return std::optional<uint64_t>(*id);
}

std::string humanBytes(uint64_t n) {
  if (n < 1024) return std::to_string(n) + " B";
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int unit = -1;
  while (v >= 1024 && unit < 3) v /= 1024, ++unit;
  char out[32];
  std::snprintf(out, sizeof out, "%.1f %s", v, kUnits[unit]);
  return out;
}

// Reading the sidecar's answers without exceptions: every field's type is
// checked before it is read.
Status malformed(const std::string& what) {
  return dataLoss("the sidecar's answer is not what this tidemark expects: " + what);
}

StatusOr<std::string> jsonString(const json& j, const char* name) {
  auto it = j.is_object() ? j.find(name) : j.end();
  if (it == j.end() || !it->is_string()) return malformed(std::string(name) + " is not a string");
  return it->get<std::string>();
}

StatusOr<Summary> summaryFromJson(const json& j) {
  Summary s;
  TM_ASSIGN_OR_RETURN(s.id, jsonId(j));
  TM_ASSIGN_OR_RETURN(s.created_at_ms, jsonInt(j, "created_at_ms"));
  TM_ASSIGN_OR_RETURN(s.trigger, jsonString(j, "trigger"));
  TM_ASSIGN_OR_RETURN(s.partitions, jsonInt(j, "partitions"));
  TM_ASSIGN_OR_RETURN(s.state_keys, jsonInt(j, "state_keys"));
  TM_ASSIGN_OR_RETURN(int64_t bytes, jsonInt(j, "state_bytes"));
  s.state_bytes = static_cast<uint64_t>(bytes);
  return s;
}

StatusOr<Manifest> manifestFromJson(const json& j) {
  Manifest m;
  m.set_format_version(1);
  TM_ASSIGN_OR_RETURN(uint64_t id, jsonId(j));
  m.set_id(id);
  TM_ASSIGN_OR_RETURN(int64_t created, jsonInt(j, "created_at_ms"));
  m.set_created_at_ms(created);
  TM_ASSIGN_OR_RETURN(*m.mutable_trigger(), jsonString(j, "trigger"));
  TM_ASSIGN_OR_RETURN(*m.mutable_job_id(), jsonString(j, "job_id"));
  if (!j.contains("offsets") || !j["offsets"].is_array()) return malformed("offsets");
  for (const json& e : j["offsets"]) {
    PartitionOffset* o = m.add_offsets();
    TM_RETURN_IF_ERROR(partitionFromJson(e, o->mutable_key()));
    TM_ASSIGN_OR_RETURN(int64_t offset, jsonInt(e, "offset"));
    TM_ASSIGN_OR_RETURN(int64_t epoch, jsonInt(e, "leader_epoch"));
    o->set_offset(offset);
    o->set_leader_epoch(static_cast<int32_t>(epoch));
    if (e.contains("metadata") && e["metadata"].is_string()) {
      o->set_metadata(e["metadata"].get<std::string>());
    }
  }
  if (!j.contains("state") || !j["state"].is_array()) return malformed("state");
  for (const json& e : j["state"]) {
    StateRef* s = m.add_state();
    TM_ASSIGN_OR_RETURN(*s->mutable_key(), jsonString(e, "key"));
    TM_ASSIGN_OR_RETURN(int64_t size, jsonInt(e, "size"));
    s->set_size(static_cast<uint64_t>(size));
    TM_ASSIGN_OR_RETURN(std::string hex, jsonString(e, "sha256"));
    TM_ASSIGN_OR_RETURN(*s->mutable_sha256(), fromHex(hex));
    TM_ASSIGN_OR_RETURN(*s->mutable_content_type(), jsonString(e, "content_type"));
    if (e.contains("partition")) {
      TM_RETURN_IF_ERROR(partitionFromJson(e["partition"], s->mutable_partition()));
    }
  }
  return m;
}

}  // namespace tidemark::cli
