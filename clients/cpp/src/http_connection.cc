#include "http_connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tidemark::detail {
namespace {

using Clock = std::chrono::steady_clock;

// What a socket operation came to. kDropped: the peer closed or reset the
// connection, which on a reused connection may be the idle close racing us.
enum class Io { kOk, kDropped, kTimeout, kError };

struct IoResult {
  Io kind = Io::kOk;
  int error = 0;  // errno, for kError and kDropped by reset
};

std::string errnoText(int error) { return std::strerror(error); }

bool isDropError(int error) {
  return error == ECONNRESET || error == EPIPE || error == ECONNABORTED;
}

// Waits until `fd` is ready for `events` or the deadline passes.
IoResult waitFor(int fd, short events, Clock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return {Io::kTimeout};
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
    if (n > 0) return {Io::kOk};  // errors and hangups show on the next send/recv
    if (n < 0 && errno != EINTR) return {Io::kError, errno};
  }
}

// Writes `head` then `body`, without copying the body, and without SIGPIPE.
IoResult sendAll(int fd, std::string_view head, std::string_view body, Clock::time_point deadline) {
  size_t done = 0;
  const size_t total = head.size() + body.size();
  while (done < total) {
    iovec parts[2];
    int count = 0;
    if (done < head.size()) {
      parts[count++] = {const_cast<char*>(head.data() + done), head.size() - done};
    }
    const size_t body_done = done > head.size() ? done - head.size() : 0;
    if (body_done < body.size()) {
      parts[count++] = {const_cast<char*>(body.data() + body_done), body.size() - body_done};
    }
    msghdr msg{};
    msg.msg_iov = parts;
    msg.msg_iovlen = static_cast<size_t>(count);
    const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (IoResult w = waitFor(fd, POLLOUT, deadline); w.kind != Io::kOk) return w;
      continue;
    }
    if (n < 0 && isDropError(errno)) return {Io::kDropped, errno};
    return {Io::kError, n < 0 ? errno : EIO};
  }
  return {Io::kOk};
}

std::string formatHead(const HttpRequest& r, const BaseUrl& endpoint) {
  std::string head;
  head.reserve(256);
  head.append(r.method).append(" ").append(r.target).append(" HTTP/1.1\r\n");
  head.append("Host: ").append(endpoint.host_header).append("\r\n");
  head.append("User-Agent: tidemark-cpp-client\r\n");
  if (r.send_length || !r.body.empty()) {
    head.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
  }
  for (const auto& [name, value] : r.headers) {
    head.append(name).append(": ").append(value).append("\r\n");
  }
  head.append("\r\n");
  return head;
}

bool isIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE";
}

}  // namespace

// The outcome of one send-and-read on one connection.
struct HttpConnection::Attempt {
  std::optional<HttpResponse> response;
  bool close_after = false;  // the connection cannot carry another request
  // The connection closed (or reset) before any byte of an answer: on a
  // reused connection, most likely the server's idle close.
  bool dropped_before_answer = false;
  std::string failure;
};

HttpConnection::HttpConnection(BaseUrl endpoint, std::chrono::milliseconds idle_limit)
    : endpoint_(std::move(endpoint)), idle_limit_(idle_limit), buffer_(64 * 1024) {}

HttpConnection::~HttpConnection() { close(); }

void HttpConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string HttpConnection::describe(const HttpRequest& request) const {
  return request.method + " http://" + endpoint_.host_header + request.target;
}

bool HttpConnection::connect(Clock::time_point deadline, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint_.port);
  if (int rc = ::getaddrinfo(endpoint_.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    why = std::string("cannot resolve ") + endpoint_.host + ": " + ::gai_strerror(rc);
    return false;
  }
  why = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = errnoText(errno);
      continue;
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    int error = rc == 0 ? 0 : errno;
    if (rc != 0 && error == EINPROGRESS) {
      const IoResult w = waitFor(fd, POLLOUT, deadline);
      if (w.kind == Io::kTimeout) {
        error = ETIMEDOUT;
      } else if (w.kind == Io::kError) {
        error = w.error;
      } else {
        socklen_t len = sizeof(error);
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
      }
    }
    if (error != 0) {
      why = errnoText(error);
      ::close(fd);
      if (error == ETIMEDOUT) break;  // the deadline is spent for every address
      continue;
    }
    // Requests are written whole; waiting to coalesce only adds latency.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fd_ = fd;
    ++opened_;
    ::freeaddrinfo(found);
    return true;
  }
  ::freeaddrinfo(found);
  return false;
}

bool HttpConnection::reusable() {
  if (fd_ < 0) return false;
  if (Clock::now() - last_used_ >= idle_limit_) return false;
  // An idle connection has nothing to read: readable means the server closed
  // it (EOF), reset it, or sent something unasked for. Either way, not reused.
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) == 0) return true;
  char byte;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

HttpConnection::Attempt HttpConnection::attempt(const HttpRequest& request,
                                                Clock::time_point deadline) {
  Attempt out;
  const std::string head = formatHead(request, endpoint_);
  const IoResult sent = sendAll(fd_, head, request.body, deadline);
  if (sent.kind == Io::kTimeout) {
    out.failure = "timed out sending the request";
    return out;
  }
  if (sent.kind == Io::kError) {
    out.failure = "sending failed: " + errnoText(sent.error);
    return out;
  }
  // When sending broke, the server may still have answered first (a 401 or
  // 413 decided from the head) before closing: read what it sent.
  const bool send_dropped = sent.kind == Io::kDropped;
  out.close_after = send_dropped;

  ResponseParser parser;
  while (true) {
    const ssize_t n = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (n > 0) {
      size_t consumed = 0;
      const ParseStatus s =
          parser.feed(std::string_view(buffer_.data(), static_cast<size_t>(n)), consumed);
      if (s == ParseStatus::kError) {
        out.failure = "malformed answer: " + parser.error();
        return out;
      }
      if (s == ParseStatus::kDone) {
        out.response = std::move(parser.response());
        // Bytes beyond the answer were never asked for: the stream is out of step.
        out.close_after =
            out.close_after || !out.response->keep_alive || consumed != static_cast<size_t>(n);
        return out;
      }
      continue;
    }
    if (n == 0 || (n < 0 && isDropError(errno))) {
      const int error = n == 0 ? 0 : errno;
      if (parser.finish() == ParseStatus::kDone) {
        out.response = std::move(parser.response());
        out.close_after = true;
        return out;
      }
      out.dropped_before_answer = !parser.started();
      out.failure = parser.started() ? parser.error()
                    : error != 0     ? "the connection was reset before an answer"
                                     : "the connection closed before an answer";
      if (send_dropped && !parser.started()) {
        out.failure = "sending failed: " + errnoText(sent.error);
      }
      return out;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const IoResult w = waitFor(fd_, POLLIN, deadline);
      if (w.kind == Io::kTimeout) {
        out.failure = "no answer in time";
        return out;
      }
      if (w.kind == Io::kError) {
        out.failure = "waiting for the answer failed: " + errnoText(w.error);
        return out;
      }
      continue;
    }
    out.failure = "reading the answer failed: " + errnoText(errno);
    return out;
  }
}

Exchange HttpConnection::exchange(const HttpRequest& request, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  for (int round = 1;; ++round) {
    if (fd_ >= 0 && !reusable()) close();
    const bool reused = fd_ >= 0;
    if (!reused) {
      std::string why;
      if (!connect(deadline, why)) {
        return {std::nullopt, describe(request) + ": cannot connect: " + why};
      }
    }
    Attempt a = attempt(request, deadline);
    if (a.response) {
      if (a.close_after) close();
      last_used_ = Clock::now();
      return {std::move(a.response), ""};
    }
    // Without a complete answer the stream's state is unknown: never reuse it.
    close();
    if (round == 1 && reused && a.dropped_before_answer && isIdempotent(request.method)) {
      continue;  // the server had closed the idle connection: send once more
    }
    return {std::nullopt, describe(request) + ": " + a.failure};
  }
}

}  // namespace tidemark::detail
