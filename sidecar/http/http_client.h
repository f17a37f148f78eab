#pragma once

// A small HTTP/1.1 client for the loop: the one seam over libevent's evhttp
// client. One keep-alive connection to one host:port, reopened as needed;
// used to call the application beside the sidecar (checkpoint.app_callback).
//
// Contract: `done` is called exactly once per request, on the loop thread,
// with the response (any status) or an error (Unavailable: no connection or
// the connection broke; DeadlineExceeded: no answer within the timeout) —
// unless the client is destroyed first, in which case it is never called.
// Loop thread only.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "sidecar/base/status.h"
#include "sidecar/config/scalars.h"
#include "sidecar/event/event_loop.h"

struct evhttp_connection;
struct evhttp_request;

namespace tidemark::http {

struct ClientResponse {
  int status = 0;
  std::string body;
};

class HttpClient {
 public:
  HttpClient(event::EventLoop& loop, config::HostPort address, std::chrono::milliseconds timeout);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void post(const std::string& path, const std::string& content_type, std::string body,
            std::function<void(StatusOr<ClientResponse>)> done);

 private:
  struct Pending;
  static void onResponse(evhttp_request* req, void* arg);

  event::EventLoop& loop_;
  config::HostPort address_;
  evhttp_connection* conn_ = nullptr;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace tidemark::http
