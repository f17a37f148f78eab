#include "sidecar/checkpoint/http_api.h"

#include <nlohmann/json.hpp>

#include "store/checkpoint_store.h"

namespace tidemark::checkpoint {
namespace {

using http::Request;
using http::Response;
using json = nlohmann::json;

Response fromStatus(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return Response::error(400, "invalid_argument", s.message());
    case StatusCode::kNotFound:
      return Response::error(404, "not_found", s.message());
    case StatusCode::kFailedPrecondition:
      return Response::error(409, "precondition_failed", s.message());
    case StatusCode::kResourceExhausted:
      return Response::error(507, "insufficient_storage", s.message());
    case StatusCode::kUnavailable:
      return Response::error(503, "unavailable", s.message());
    default:
      return Response::error(500, "internal", s.toString());
  }
}

std::optional<std::string> ifMatch(const Request& req) {
  if (!req.hasHeader("if-match")) return std::nullopt;
  return req.header("if-match");
}

StatusOr<View> viewOf(const Request& req) {
  auto it = req.query.find("view");
  if (it == req.query.end() || it->second == "sealed") return View::kSealed;
  if (it->second == "staged") return View::kStaged;
  return invalidArgument("view must be sealed or staged");
}

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

StatusOr<json> parseBody(const Request& req) {
  json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalidArgument("body is not valid JSON");
  return j;
}

json manifestSummary(const store::Manifest& m) {
  uint64_t bytes = 0;
  for (const auto& s : m.state()) bytes += s.size();
  return {{"id", std::to_string(m.id())}, {"created_at_ms", m.created_at_ms()},
          {"trigger", m.trigger()},       {"partitions", m.offsets_size()},
          {"state_keys", m.state_size()}, {"state_bytes", bytes}};
}

json manifestDetail(const store::Manifest& m) {
  json j = manifestSummary(m);
  j["job_id"] = m.job_id();
  json offsets = json::array();
  for (const auto& o : m.offsets()) {
    json e = {{"group", o.key().group()},
              {"topic", o.key().topic()},
              {"partition", o.key().partition()},
              {"offset", o.offset()},
              {"leader_epoch", o.leader_epoch()}};
    e["metadata"] = o.has_metadata() ? json(o.metadata()) : json(nullptr);
    offsets.push_back(e);
  }
  json state = json::array();
  for (const auto& s : m.state()) {
    state.push_back({{"key", s.key()},
                     {"size", s.size()},
                     {"sha256", store::toHex(s.sha256())},
                     {"content_type", s.content_type()}});
  }
  j["offsets"] = offsets;
  j["state"] = state;
  return j;
}

Response sealOffsets(Coordinator& c, const std::map<PartitionId, CommittedOffset>& offsets) {
  uint64_t processed = c.book().seal(offsets);
  c.onSealed(processed);
  return Response::json(
      200, json({{"seal", c.book().sealed().seal}, {"partitions", offsets.size()}}).dump());
}

}  // namespace

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

void registerRoutes(http::HttpServer& server, Coordinator& c) {
  server.route("PUT", "/v1/state/{key...}", [&c](const Request& req) {
    const std::string& key = req.params.at("key");
    if (Status s = validateKey(key); !s.isOk()) {
      return Response::error(400, "invalid_key", s.message());
    }
    std::string type = req.header("content-type");
    if (type.empty()) type = "application/octet-stream";
    Status s = c.book().put(key, req.body, type, ifMatch(req));
    if (!s.isOk()) return fromStatus(s);
    Response r = Response::empty(204);
    r.headers["ETag"] = StateBook::etag(*c.book().get(key, View::kStaged));
    return r;
  });
  server.route("GET", "/v1/state/{key...}", [&c](const Request& req) {
    const std::string& key = req.params.at("key");
    if (Status s = validateKey(key); !s.isOk()) {
      return Response::error(400, "invalid_key", s.message());
    }
    auto view = viewOf(req);
    if (!view.isOk()) return fromStatus(view.status());
    auto entry = c.book().get(key, *view);
    if (!entry) return Response::error(404, "not_found", "no state " + key);
    Response r = Response::json(200, *entry->data);
    r.content_type = entry->content_type.empty() ? "application/octet-stream" : entry->content_type;
    r.headers["ETag"] = StateBook::etag(*entry);
    return r;
  });
  server.route("DELETE", "/v1/state/{key...}", [&c](const Request& req) {
    const std::string& key = req.params.at("key");
    if (Status s = validateKey(key); !s.isOk()) {
      return Response::error(400, "invalid_key", s.message());
    }
    Status s = c.book().remove(key, ifMatch(req));
    return s.isOk() ? Response::empty(204) : fromStatus(s);
  });
  server.route("GET", "/v1/state", [&c](const Request& req) {
    auto view = viewOf(req);
    if (!view.isOk()) return fromStatus(view.status());
    auto it = req.query.find("prefix");
    json keys = json::array();
    for (const auto& [key, entry] : c.book().list(it == req.query.end() ? "" : it->second, *view)) {
      keys.push_back(
          {{"key", key}, {"size", entry.data->size()}, {"etag", StateBook::etag(entry)}});
    }
    return Response::json(200, json({{"keys", keys}}).dump());
  });
  server.route("POST", "/v1/offsets", [&c](const Request& req) {
    auto body = parseBody(req);
    if (!body.isOk()) return Response::error(400, "malformed_json", body.status().message());
    auto offsets = parseOffsets(*body);
    if (!offsets.isOk()) return Response::error(400, "invalid_offsets", offsets.status().message());
    return sealOffsets(c, *offsets);
  });
  server.route("POST", "/v1/commit", [&c](const Request& req) {
    auto body = parseBody(req);
    if (!body.isOk()) return Response::error(400, "malformed_json", body.status().message());
    const json& j = *body;
    if (!j.is_object()) return Response::error(400, "invalid_commit", "body must be an object");
    auto offsets = parseOffsets(j.value("offsets", json::array()));
    if (!offsets.isOk()) return Response::error(400, "invalid_offsets", offsets.status().message());
    json state = j.value("state", json::object());
    json puts = state.is_object() ? state.value("put", json::object()) : json();
    json dels = state.is_object() ? state.value("delete", json::array()) : json();
    if (!puts.is_object() || !dels.is_array()) {
      return Response::error(400, "invalid_commit",
                             "state must be {\"put\": {key: base64}, \"delete\": [key]}");
    }
    // Validate everything before changing anything: a commit applies whole or not at all.
    std::vector<std::pair<std::string, std::string>> decoded;
    for (auto it = puts.begin(); it != puts.end(); ++it) {
      if (Status s = validateKey(it.key()); !s.isOk()) {
        return Response::error(400, "invalid_key", it.key() + ": " + s.message());
      }
      auto bytes =
          it.value().is_string() ? base64Decode(it.value().get<std::string>()) : std::nullopt;
      if (!bytes) return Response::error(400, "invalid_commit", it.key() + ": value is not base64");
      decoded.emplace_back(it.key(), std::move(*bytes));
    }
    for (const json& k : dels) {
      if (!k.is_string() || !validateKey(k.get<std::string>()).isOk()) {
        return Response::error(400, "invalid_key", "delete: keys must be valid key strings");
      }
    }
    for (auto& [key, bytes] : decoded) {
      (void)c.book().put(key, std::move(bytes), "application/octet-stream", std::nullopt);
    }
    for (const json& k : dels) (void)c.book().remove(k.get<std::string>(), std::nullopt);
    return sealOffsets(c, *offsets);
  });
  server.route("POST", "/v1/checkpoints", [&c](const Request&, http::Reply reply) {
    c.checkpoint("request", [reply](StatusOr<uint64_t> id) {
      if (!id.isOk()) return reply(fromStatus(id.status()));
      reply(Response::json(201, json({{"id", std::to_string(*id)}}).dump()));
    });
  });
  server.route("GET", "/v1/checkpoints", [&c](const Request&) {
    json list = json::array();
    for (const auto& m : c.retained()) list.push_back(manifestSummary(m));
    return Response::json(200, json({{"checkpoints", list}}).dump());
  });
  server.route("GET", "/v1/checkpoints/{id}", [&c](const Request& req) {
    const std::string& id = req.params.at("id");
    for (const auto& m : c.retained()) {
      if (std::to_string(m.id()) == id) return Response::json(200, manifestDetail(m).dump());
    }
    return Response::error(404, "not_found", "no retained checkpoint " + id);
  });
}

}  // namespace tidemark::checkpoint
