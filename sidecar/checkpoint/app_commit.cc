#include "sidecar/checkpoint/app_commit.h"

#include <nlohmann/json.hpp>

namespace tidemark::checkpoint {

using json = nlohmann::json;

// [{"group","topic","partition","offset","leader_epoch"?,"metadata"?}, ...]
StatusOr<std::map<PartitionId, CommittedOffset>> parseOffsets(const json& list) {
  if (!list.is_array()) return invalidArgument("offsets must be a JSON array");
  std::map<PartitionId, CommittedOffset> out;
  for (const json& o : list) {
    if (!o.is_object() || !o.contains("group") || !o["group"].is_string() || !o.contains("topic") ||
        !o["topic"].is_string() || !o.contains("partition") ||
        !o["partition"].is_number_integer() || !o.contains("offset") ||
        !o["offset"].is_number_integer()) {
      return invalidArgument(
          "each offset needs group (string), topic (string), partition and offset (integers)");
    }
    PartitionId id{o["group"].get<std::string>(), o["topic"].get<std::string>(),
                   o["partition"].get<int32_t>()};
    if (id.group.empty() || id.topic.empty() || id.partition < 0) {
      return invalidArgument("group and topic must be non-empty, partition >= 0");
    }
    CommittedOffset c;
    c.offset = o["offset"].get<int64_t>();
    if (c.offset < 0) return invalidArgument("offset must be >= 0");
    if (o.contains("leader_epoch")) {
      if (!o["leader_epoch"].is_number_integer()) return invalidArgument("leader_epoch: integer");
      c.leader_epoch = o["leader_epoch"].get<int32_t>();
    }
    if (o.contains("metadata") && !o["metadata"].is_null()) {
      if (!o["metadata"].is_string()) return invalidArgument("metadata: string");
      c.metadata = o["metadata"].get<std::string>();
    }
    out[id] = c;
  }
  return out;
}

std::optional<AppCommit> parseAppCommit(std::string_view body, size_t max_value_bytes,
                                        CommitError& error) {
  auto fail = [&error](std::string code, std::string message, int status = 400) {
    error = {status, std::move(code), std::move(message)};
    return std::nullopt;
  };
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail("malformed_json", "body is not valid JSON");
  if (!j.is_object()) return fail("invalid_commit", "body must be an object");
  auto offsets = parseOffsets(j.value("offsets", json::array()));
  if (!offsets.isOk()) return fail("invalid_offsets", offsets.status().message());
  AppCommit out{std::move(*offsets), {}, {}};
  json state = j.value("state", json::object());
  json puts = state.is_object() ? state.value("put", json::object()) : json();
  json dels = state.is_object() ? state.value("delete", json::array()) : json();
  if (!puts.is_object() || !dels.is_array()) {
    return fail("invalid_commit", "state must be {\"put\": {key: base64}, \"delete\": [key]}");
  }
  for (auto it = puts.begin(); it != puts.end(); ++it) {
    if (Status s = validateKey(it.key()); !s.isOk()) {
      return fail("invalid_key", it.key() + ": " + s.message());
    }
    auto bytes =
        it.value().is_string() ? base64Decode(it.value().get<std::string>()) : std::nullopt;
    if (!bytes) return fail("invalid_commit", it.key() + ": value is not base64");
    if (bytes->size() > max_value_bytes) {
      return fail("payload_too_large",
                  it.key() + ": state values are limited to http.max_blob_bytes (" +
                      std::to_string(max_value_bytes) + " bytes); got " +
                      std::to_string(bytes->size()),
                  413);
    }
    out.puts.emplace_back(it.key(), std::move(*bytes));
  }
  for (const json& k : dels) {
    if (!k.is_string() || !validateKey(k.get<std::string>()).isOk()) {
      return fail("invalid_key", "delete: keys must be valid key strings");
    }
    out.deletes.push_back(k.get<std::string>());
  }
  return out;
}

void applyAppCommit(Coordinator& c, AppCommit commit) {
  for (auto& [key, bytes] : commit.puts) {
    (void)c.book().put(key, std::move(bytes), "application/octet-stream", std::nullopt);
  }
  for (const auto& key : commit.deletes) (void)c.book().remove(key, std::nullopt);
  c.sealMarked(commit.offsets);
}

std::optional<std::string> base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else {
        if (pad > 0) return std::nullopt;  // data after padding
        v[k] = value(c);
        if (v[k] < 0) return std::nullopt;
      }
    }
    uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

}  // namespace tidemark::checkpoint
