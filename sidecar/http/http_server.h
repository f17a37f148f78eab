#pragma once

// The local HTTP API's server: the one seam over libevent's evhttp. Routes are
// exact (method, path) matches registered before start(); a handler gets the
// request and fills a Response. Runs on its EventLoop's thread; handlers run
// there too and must not block.
//
// Errors are JSON: {"error": {"code": "not_found", "message": "..."}}.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "sidecar/base/status.h"
#include "sidecar/config/scalars.h"
#include "sidecar/event/event_loop.h"

struct evhttp;
struct evhttp_request;

namespace tidemark::http {

struct Request {
  std::string method;
  std::string path;   // decoded URI path, without the query
  std::string query;  // raw query string, without '?'
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::map<std::string, std::string> headers;

  static Response json(int status, std::string body);
  // {"error": {"code": code, "message": message}}
  static Response error(int status, std::string_view code, std::string_view message);
};

using Handler = std::function<Response(const Request&)>;

class HttpServer {
 public:
  explicit HttpServer(event::EventLoop& loop);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void route(std::string method, std::string path, Handler handler);

  // Binds and starts serving. `address.port` 0 picks a free port.
  Status start(const config::HostPort& address, size_t max_body_bytes);

  // The bound address (meaningful after start()).
  config::HostPort boundAddress() const { return bound_; }

 private:
  static void onRequest(evhttp_request* req, void* self);
  void handle(evhttp_request* req);

  event::EventLoop& loop_;
  evhttp* http_ = nullptr;
  config::HostPort bound_;
  std::map<std::pair<std::string, std::string>, Handler> routes_;
};

}  // namespace tidemark::http
