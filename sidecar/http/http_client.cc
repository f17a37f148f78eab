#include "sidecar/http/http_client.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/util.h>

namespace tidemark::http {

struct HttpClient::Pending {
  std::weak_ptr<bool> alive;
  std::function<void(StatusOr<ClientResponse>)> done;
  std::string what;  // "POST host:port/path", for errors
  int error = -1;    // evhttp_request_error, when the request failed
};

HttpClient::HttpClient(event::EventLoop& loop, config::HostPort address,
                       std::chrono::milliseconds timeout)
    : loop_(loop), address_(std::move(address)) {
  conn_ = evhttp_connection_base_new(loop_.base(), nullptr, address_.host.c_str(), address_.port);
  if (conn_ != nullptr) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    evhttp_connection_set_timeout_tv(conn_, &tv);
    // One retry: a kept-alive connection the application closed meanwhile is
    // reopened; anything more is the checkpoint's retry schedule.
    evhttp_connection_set_retries(conn_, 1);
  }
}

HttpClient::~HttpClient() {
  alive_.reset();
  if (conn_ != nullptr) evhttp_connection_free(conn_);
}

void HttpClient::post(const std::string& path, const std::string& content_type, std::string body,
                      std::function<void(StatusOr<ClientResponse>)> done) {
  auto* pending = new Pending{alive_, std::move(done), "POST " + address_.toString() + path};
  evhttp_request* req = conn_ ? evhttp_request_new(&HttpClient::onResponse, pending) : nullptr;
  if (req == nullptr) {
    auto fail = std::move(pending->done);
    delete pending;
    return loop_.post(
        [fail = std::move(fail)] { fail(unavailable("cannot create an HTTP request")); });
  }
  evhttp_request_set_error_cb(
      req, [](evhttp_request_error e, void* arg) { static_cast<Pending*>(arg)->error = e; });
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Host", address_.toString().c_str());
  evhttp_add_header(headers, "Content-Type", content_type.c_str());
  evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
  if (evhttp_make_request(conn_, req, EVHTTP_REQ_POST, path.c_str()) != 0) {
    // evhttp freed the request and will not call back.
    auto fail = std::move(pending->done);
    delete pending;
    loop_.post([fail = std::move(fail)] { fail(unavailable("cannot send the HTTP request")); });
  }
}

// evhttp calls this once per request: with the response, or with a request
// whose code is 0 (or none at all) when the connection failed or timed out.
void HttpClient::onResponse(evhttp_request* req, void* arg) {
  std::unique_ptr<Pending> pending(static_cast<Pending*>(arg));
  if (pending->alive.expired()) return;
  if (req == nullptr || evhttp_request_get_response_code(req) == 0) {
    if (pending->error == EVREQ_HTTP_TIMEOUT) {
      return pending->done(deadlineExceeded(pending->what + ": no answer in time"));
    }
    return pending->done(unavailable(pending->what + ": no connection or the connection broke"));
  }
  ClientResponse out;
  out.status = evhttp_request_get_response_code(req);
  evbuffer* in = evhttp_request_get_input_buffer(req);
  out.body.resize(evbuffer_get_length(in));
  evbuffer_copyout(in, out.body.data(), out.body.size());
  pending->done(std::move(out));
}

}  // namespace tidemark::http
