#pragma once

// The local HTTP API's server: the one seam over libevent's evhttp. Routes are
// registered before start() as (method, pattern); a pattern's segments are
// literals, `{name}` (one percent-decoded segment) or a final `{name...}` (the
// percent-decoded rest of the path). A handler gets the request and a Reply it
// calls exactly once, now or later (from the loop thread): that is how answers
// that wait for a checkpoint are given. Runs on its EventLoop's thread.
//
// Errors are JSON: {"error": {"code": "not_found", "message": "..."}}.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sidecar/base/status.h"
#include "sidecar/config/scalars.h"
#include "sidecar/event/event_loop.h"
#include "sidecar/metrics/registry.h"

struct evhttp;
struct evhttp_request;

namespace tidemark::http {

struct Request {
  std::string method;
  std::string path;                            // raw path, without the query
  std::map<std::string, std::string> params;   // from the route pattern, decoded
  std::map<std::string, std::string> query;    // decoded query parameters
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  bool hasHeader(const std::string& lower_name) const { return headers.count(lower_name) > 0; }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;

  static Response json(int status, std::string body);
  static Response empty(int status);
  // {"error": {"code": code, "message": message}}
  static Response error(int status, std::string_view code, std::string_view message);
};

// Answers the request; call once. Calls after the client went away are dropped.
using Reply = std::function<void(Response)>;
using Handler = std::function<void(const Request&, Reply)>;
using SyncHandler = std::function<Response(const Request&)>;

class HttpServer {
 public:
  explicit HttpServer(event::EventLoop& loop);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void route(std::string method, std::string pattern, Handler handler);
  void route(std::string method, std::string pattern, SyncHandler handler);

  // Counts requests by route pattern, method and status, and their duration
  // (tidemark_http_requests_total, tidemark_http_request_duration_seconds).
  void setMetrics(metrics::Registry& registry) { metrics_ = &registry; }

  // Binds and starts serving. `address.port` 0 picks a free port. Bodies
  // beyond `max_body_bytes` are refused by libevent itself (413 with its own
  // HTML page, the connection closed) before any handler runs: set it above
  // what routes accept, so that routes answer their own limits in JSON and
  // this one only bounds memory.
  Status start(const config::HostPort& address, size_t max_body_bytes);

  // The bound address (meaningful after start()).
  config::HostPort boundAddress() const { return bound_; }

  // Every (method, pattern) served, for the OpenAPI cross-check.
  std::vector<std::pair<std::string, std::string>> routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  static void onRequest(evhttp_request* req, void* self);
  void handle(evhttp_request* req);
  // Matches `path` against a route's segments, filling params. Returns false
  // on no match; sets `bad` when a segment does not percent-decode.
  static bool match(const Route& route, const std::string& path,
                    std::map<std::string, std::string>& params, bool& bad);

  event::EventLoop& loop_;
  evhttp* http_ = nullptr;
  config::HostPort bound_;
  std::vector<Route> routes_;
  metrics::Registry* metrics_ = nullptr;
  void record(const std::string& route, const std::string& method, int status, double seconds);
  std::map<std::tuple<std::string, std::string, int>, metrics::Counter*> request_counts_;
  std::map<std::string, metrics::Histogram*> request_durations_;
};

// Strict percent-decoding: a malformed escape, or one that yields NUL, fails.
std::optional<std::string> percentDecode(std::string_view in, bool plus_is_space);
std::string jsonEscape(std::string_view s);

}  // namespace tidemark::http
