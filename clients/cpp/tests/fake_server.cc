#include "fake_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <stdexcept>

namespace tidemark::test_support {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::optional<std::string> RawRequest::header(std::string_view name) const {
  const std::string want = lower(std::string(name)) + ":";
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos) {
    const size_t start = pos + 2;
    const size_t end = head.find("\r\n", start);
    const std::string line = head.substr(start, end == std::string::npos ? end : end - start);
    if (lower(line.substr(0, want.size())) == want) {
      std::string value = line.substr(want.size());
      value.erase(0, value.find_first_not_of(' '));
      return value;
    }
    pos = end;
  }
  return std::nullopt;
}

std::optional<RawRequest> FakeServer::Conn::read() {
  RawRequest r;
  auto fill = [&]() {
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  };
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (fd_ < 0 || !fill()) return std::nullopt;
  }
  r.head = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);
  const size_t length = std::stoul(r.header("content-length").value_or("0"));
  while (buffer_.size() < length) {
    if (!fill()) return std::nullopt;
  }
  r.body = buffer_.substr(0, length);
  buffer_.erase(0, length);
  std::lock_guard<std::mutex> hold(server_.mutex_);
  server_.requests_.push_back(r);
  return r;
}

void FakeServer::Conn::write(std::string_view raw) {
  while (!raw.empty() && fd_ >= 0) {
    const ssize_t n = ::send(fd_, raw.data(), raw.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    raw.remove_prefix(static_cast<size_t>(n));
  }
}

void FakeServer::Conn::close() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  std::lock_guard<std::mutex> hold(server_.mutex_);
  ++server_.closed_;
  server_.changed_.notify_all();
}

FakeServer::FakeServer(std::vector<Script> scripts) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
      ::pipe(stop_pipe_) != 0) {
    throw std::runtime_error("fake server: cannot listen");
  }
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this, s = std::move(scripts)]() mutable { run(std::move(s)); });
}

FakeServer::~FakeServer() {
  [[maybe_unused]] ssize_t n = ::write(stop_pipe_[1], "x", 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

void FakeServer::run(std::vector<Script> scripts) {
  for (size_t i = 0;; ++i) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
    if (p[1].revents != 0) return;
    if (p[0].revents == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    // A script waiting for a request that never comes gives up eventually.
    timeval limit{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    Conn conn(fd, *this);
    if (i < scripts.size()) scripts[i](conn);
    conn.close();
  }
}

std::vector<RawRequest> FakeServer::requests() {
  std::lock_guard<std::mutex> hold(mutex_);
  return requests_;
}

void FakeServer::waitClosed(int n) {
  std::unique_lock<std::mutex> hold(mutex_);
  changed_.wait_for(hold, std::chrono::seconds(10), [&] { return closed_ >= n; });
}

std::string FakeServer::answer(int status, std::string_view body, std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
  if (status != 204) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += extra_headers;
  out += "\r\n";
  if (status != 204) out += body;
  return out;
}

}  // namespace tidemark::test_support
