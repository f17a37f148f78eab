#include "sidecar/checkpoint/http_api.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <system_error>

#include "sidecar/checkpoint/app_commit.h"
#include "sidecar/checkpoint/checkpoint_json.h"
#include "sidecar/config/scalars.h"
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
    case StatusCode::kDeadlineExceeded:
      return Response::error(504, "checkpoint_timeout", s.message());
    case StatusCode::kDataLoss:
      return Response::error(500, "data_loss",
                             s.message() +
                                 ": the local store is damaged (docs/operations.md, "
                                 "\"A damaged store\")");
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

StatusOr<json> parseBody(const Request& req) {
  json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalidArgument("body is not valid JSON");
  return j;
}

Response sealedAnswer(Coordinator& c, size_t partitions) {
  return Response::json(
      200, json({{"seal", c.book().sealed().seal}, {"partitions", partitions}}).dump());
}

// The partition of a partition-scoped route, or an error answer.
std::optional<Response> partitionOf(const Request& req, PartitionId& out) {
  out.group = req.params.at("group");
  out.topic = req.params.at("topic");
  const std::string& p = req.params.at("partition");
  if (out.group.empty() || out.group.size() > 255) {
    return Response::error(400, "invalid_partition", "group must be 1-255 bytes");
  }
  if (!config::isKafkaTopicName(out.topic)) {
    return Response::error(400, "invalid_partition", "topic is not a valid Kafka topic name");
  }
  if (p.empty() || p.size() > 10 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoll(p) > INT32_MAX) {
    return Response::error(400, "invalid_partition", "partition must be an integer 0-2147483647");
  }
  out.partition = static_cast<int32_t>(std::stoll(p));
  return std::nullopt;
}

// The book's key for a state request: the key itself (/v1/state/{key}) or
// the partition-scoped one (/v1/groups/.../state/{key}); or an error answer.
std::optional<Response> bookKeyOf(const Request& req, std::string& out) {
  const std::string& key = req.params.at("key");
  if (Status s = validateKey(key); !s.isOk()) {
    return Response::error(400, "invalid_key", s.message());
  }
  if (!req.params.count("group")) {
    out = key;
    return std::nullopt;
  }
  PartitionId p;
  if (auto bad = partitionOf(req, p)) return bad;
  out = scopedKey(p, key);
  return std::nullopt;
}

void registerStateRoutes(http::HttpServer& server, Coordinator& c, const std::string& base,
                         size_t max_blob_bytes) {
  server.route(
      "PUT", base + "/{key...}",
      [&c](const Request& req) {
        std::string key;
        if (auto bad = bookKeyOf(req, key)) return *bad;
        std::string type = req.header("content-type");
        if (type.empty()) type = "application/octet-stream";
        Status s = c.book().put(key, req.body, type, ifMatch(req));
        if (!s.isOk()) return fromStatus(s);
        Response r = Response::empty(204);
        r.headers["ETag"] = StateBook::etag(*c.book().get(key, View::kStaged));
        return r;
      },
      max_blob_bytes);
  server.route("GET", base + "/{key...}", [&c](const Request& req, http::Reply reply) {
    std::string key;
    if (auto bad = bookKeyOf(req, key)) return reply(*bad);
    auto view = viewOf(req);
    if (!view.isOk()) return reply(fromStatus(view.status()));
    c.readState(key, *view, [reply](StatusOr<StateEntry> entry) {
      if (!entry.isOk()) return reply(fromStatus(entry.status()));
      Response r = Response::json(200, *entry->data);
      r.content_type =
          entry->content_type.empty() ? "application/octet-stream" : entry->content_type;
      r.headers["ETag"] = StateBook::etag(*entry);
      reply(std::move(r));
    });
  });
  server.route("DELETE", base + "/{key...}", [&c](const Request& req) {
    std::string key;
    if (auto bad = bookKeyOf(req, key)) return *bad;
    Status s = c.book().remove(key, ifMatch(req));
    return s.isOk() ? Response::empty(204) : fromStatus(s);
  });
  server.route("GET", base, [&c](const Request& req) {
    auto view = viewOf(req);
    if (!view.isOk()) return fromStatus(view.status());
    auto it = req.query.find("prefix");
    const std::string prefix = it == req.query.end() ? "" : it->second;
    std::string scope;  // the book's key prefix of this route's keys
    if (req.params.count("group")) {
      PartitionId p;
      if (auto bad = partitionOf(req, p)) return *bad;
      scope = scopedKey(p, "");
    }
    json keys = json::array();
    for (const auto& [key, entry] : c.book().list(scope + prefix, *view)) {
      if (scope.empty() && isScopedKey(key)) continue;  // another scope's
      keys.push_back({{"key", key.substr(scope.size())},
                      {"size", entry.size},
                      {"etag", StateBook::etag(entry)}});
    }
    return Response::json(200, json({{"keys", keys}}).dump());
  });
}

}  // namespace

void registerRoutes(http::HttpServer& server, Coordinator& c, const RouteLimits& limits) {
  registerStateRoutes(server, c, "/v1/state", limits.max_blob_bytes);
  registerStateRoutes(server, c, "/v1/groups/{group}/topics/{topic}/partitions/{partition}/state",
                      limits.max_blob_bytes);
  server.route("POST", "/v1/offsets", [&c](const Request& req) {
    auto body = parseBody(req);
    if (!body.isOk()) return Response::error(400, "malformed_json", body.status().message());
    auto offsets = parseOffsets(*body);
    if (!offsets.isOk()) return Response::error(400, "invalid_offsets", offsets.status().message());
    const size_t partitions = offsets->size();
    applyAppCommit(c, AppCommit{std::move(*offsets), {}, {}});
    return sealedAnswer(c, partitions);
  });
  // A commit document carries state base64-encoded: 4/3 of its bytes.
  server.route(
      "POST", "/v1/commit",
      [&c, max_value = limits.max_blob_bytes](const Request& req) {
        CommitError error;
        auto commit = parseAppCommit(req.body, max_value, error);
        if (!commit) return Response::error(error.status, error.code, error.message);
        const size_t partitions = commit->offsets.size();
        applyAppCommit(c, std::move(*commit));
        return sealedAnswer(c, partitions);
      },
      limits.max_request_bytes + limits.max_blob_bytes / 3 * 4 + 4);
  server.route("POST", "/v1/checkpoints", [&c](const Request&, http::Reply reply) {
    c.checkpoint("request", [reply](StatusOr<uint64_t> id) {
      if (!id.isOk()) return reply(fromStatus(id.status()));
      reply(Response::json(201, json({{"id", std::to_string(*id)}}).dump()));
    });
  });
  server.route("GET", "/v1/checkpoints", [&c](const Request&) {
    json list = json::array();
    for (const auto& s : c.retained()) list.push_back(summaryJson(s));
    return Response::json(200, json({{"checkpoints", list}}).dump());
  });
  // The manifest is read from the store: the coordinator keeps summaries.
  server.route("GET", "/v1/checkpoints/{id}", [&c](const Request& req, http::Reply reply) {
    const std::string id = req.params.at("id");
    const auto notRetained = [id] {
      return Response::error(404, "not_found", "no retained checkpoint " + id);
    };
    uint64_t wanted = 0;
    auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), wanted);
    if (ec != std::errc() || end != id.data() + id.size()) return reply(notRetained());
    c.readCheckpoint(wanted, [reply, notRetained](StatusOr<std::optional<store::Manifest>> m) {
      if (!m.isOk()) return reply(fromStatus(m.status()));
      if (!m->has_value()) return reply(notRetained());
      reply(Response::json(200, detailJson(**m).dump()));
    });
  });
}

}  // namespace tidemark::checkpoint
