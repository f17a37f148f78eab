#pragma once

// The local HTTP API's server: HTTP/1.1 with keep-alive and pipelining on the
// event layer's TcpStream (framing in http_parser.h). Routes are registered
// before start() as (method, pattern); a pattern's segments are literals,
// `{name}` (one percent-decoded segment) or a final `{name...}` (the
// percent-decoded rest of the path). A handler gets the request and a Reply it
// calls exactly once, now or later (from the loop thread): that is how answers
// that wait for a checkpoint are given. Answers leave in request order. HEAD is
// served by the GET route, without the body. Runs on its EventLoop's thread.
//
// Every error is JSON, whatever stage finds it (framing, auth, routing, size):
// {"error": {"code": "not_found", "message": "..."}}. A body beyond its
// route's limit is refused with 413 from Content-Length alone, before it is
// read (or, with "Expect: 100-continue", before the client sends it).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sidecar/base/status.h"
#include "sidecar/config/scalars.h"
#include "sidecar/event/event_loop.h"
#include "sidecar/event/tcp_listener.h"
#include "sidecar/metrics/registry.h"

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

class TokenFile;

class HttpServer {
 public:
  explicit HttpServer(event::EventLoop& loop);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `max_body_bytes` 0 means the server's default (start()).
  void route(std::string method, std::string pattern, Handler handler, size_t max_body_bytes = 0);
  void route(std::string method, std::string pattern, SyncHandler handler,
             size_t max_body_bytes = 0);

  // Every request must then carry the token (401 otherwise), except GET or
  // HEAD of exactly /healthz and /readyz. `token` must outlive the server.
  void requireToken(const TokenFile* token) { token_ = token; }

  // Counts requests by route pattern, method and status, and their duration
  // (tidemark_http_requests_total, tidemark_http_request_duration_seconds).
  void setMetrics(metrics::Registry& registry) { metrics_ = &registry; }

  // Binds and starts serving. `address.port` 0 picks a free port.
  // `default_max_body_bytes` bounds the body of routes without their own limit.
  Status start(const config::HostPort& address, size_t default_max_body_bytes);

  // How long a request may take to arrive whole from its first byte before it
  // is answered 408 and its connection closed (default 30 s; before start()).
  void setRequestTimeout(std::chrono::milliseconds timeout) { request_timeout_ = timeout; }

  // Stops accepting connections; open ones are served until they close.
  void stopAccepting() { listener_.reset(); }
  // Requests received whose answer has not been sent yet.
  size_t inFlight() const;

  // The bound address (meaningful after start()).
  config::HostPort boundAddress() const { return bound_; }

  // Every (method, pattern) served, for the OpenAPI cross-check.
  std::vector<std::pair<std::string, std::string>> routes() const;

 private:
  class Connection;
  friend class Connection;
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    size_t max_body_bytes;
  };
  // What a request head resolves to before its body is read.
  struct Resolved {
    const Route* route = nullptr;  // null: answer `error`
    std::map<std::string, std::string> params;
    std::optional<Response> error;
    std::string label = "unmatched";  // the metrics' route label
  };
  Resolved resolve(const std::string& method, const std::string& path,
                   const std::string& authorization) const;
  // Matches `path` against a route's segments, filling params. Returns false
  // on no match; sets `bad` when a segment does not percent-decode.
  static bool match(const Route& route, const std::vector<std::string>& parts,
                    std::map<std::string, std::string>& params, bool& bad);
  void accept(int fd, std::string peer);
  // Closes idle connections; answers 408 to requests that outlived the timeout.
  void sweep();

  event::EventLoop& loop_;
  std::unique_ptr<event::TcpListener> listener_;
  std::unique_ptr<event::Timer> idle_sweep_;
  config::HostPort bound_;
  size_t default_max_body_ = 0;
  std::chrono::milliseconds request_timeout_{30000};
  std::vector<Route> routes_;
  const TokenFile* token_ = nullptr;
  uint64_t next_connection_id_ = 0;
  std::map<uint64_t, std::shared_ptr<Connection>> connections_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  metrics::Registry* metrics_ = nullptr;
  void record(const std::string& route, const std::string& method, int status, double seconds);
  std::map<std::tuple<std::string, std::string, int>, metrics::Counter*> request_counts_;
  std::map<std::string, metrics::Histogram*> request_durations_;
};

// Strict percent-decoding: a malformed escape, or one that yields NUL, fails.
std::optional<std::string> percentDecode(std::string_view in, bool plus_is_space);
std::string jsonEscape(std::string_view s);

}  // namespace tidemark::http
