#pragma once

// One keep-alive HTTP/1.1 connection to the sidecar over a POSIX TCP socket:
// the client's only I/O seam.
//
// Contract:
// - exchange() sends one request and reads its whole answer (no pipelining),
//   opening a connection when there is none. It returns the answer (any
//   status) or, as a value, why none came.
// - A connection is reused until the server asks to close it, it broke, or it
//   sat unused for `idle_limit`. Before reuse it is checked without blocking;
//   one the server already closed is replaced before anything is sent, which
//   covers the usual case of the sidecar closing idle connections (after 60s).
// - When a reused connection turns out closed after the request went out but
//   before any byte of the answer came, the request is sent once more on a new
//   connection if its method is idempotent (GET, HEAD, PUT, DELETE): the server
//   never processed it, or processing it twice does no harm. A POST is never
//   sent twice; its caller gets the failure.
// - `timeout` bounds the whole exchange, connecting and a resend included.
// - Not thread-safe: one exchange at a time (the Client holds a mutex).

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "encoding.h"
#include "http_response.h"

namespace tidemark::detail {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query, already percent-encoded
  // Besides Host, User-Agent and Content-Length, which are added here. Values
  // must not contain CR, LF or NUL (the Client checks what callers give it).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;  // not owned; must outlive exchange()
  // Content-Length even for an empty body (PUT and POST carry one always).
  bool send_length = false;
};

struct Exchange {
  std::optional<HttpResponse> response;  // set when an answer came
  std::string failure;                   // why not, otherwise
};

class HttpConnection {
 public:
  static constexpr std::chrono::milliseconds kDefaultIdleLimit = std::chrono::seconds(30);

  explicit HttpConnection(BaseUrl endpoint,
                          std::chrono::milliseconds idle_limit = kDefaultIdleLimit);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  Exchange exchange(const HttpRequest& request, std::chrono::milliseconds timeout);
  void close();

  // How many TCP connections were opened so far (tests watch reuse with it).
  int connectionsOpened() const { return opened_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Attempt;

  bool connect(Clock::time_point deadline, std::string& why);
  bool reusable();
  Attempt attempt(const HttpRequest& request, Clock::time_point deadline);
  std::string describe(const HttpRequest& request) const;

  BaseUrl endpoint_;
  std::chrono::milliseconds idle_limit_;
  int fd_ = -1;
  int opened_ = 0;
  Clock::time_point last_used_{};
  std::vector<char> buffer_;
};

}  // namespace tidemark::detail
