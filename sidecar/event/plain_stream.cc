// Plain TCP on the proxy's own non-blocking I/O.
//
// Why not libevent's socket bufferevent: it reads at most 4 KiB per call
// (EVBUFFER_MAX_READ in 2.1) with a FIONREAD ioctl before each, and it arms
// write readiness (epoll_ctl) for every write and disarms it once drained —
// four epoll_ctl calls per proxied request/response pair. Here:
// - reads take up to 256 KiB per readv and stop when the kernel had less,
//   leaving the rest to level-triggered readiness (no read that returns EAGAIN);
// - writes are gathered until the end of the current loop turn (one "flush"
//   event made active, never registered with epoll) and sent with one
//   sendmsg; write readiness is armed only when the socket is full;
// - reading is only switched off under backpressure.
// - closeAfterFlush lingers: once the output is sent, the write side is shut
//   (FIN) and input is read and dropped until the peer closes (or a few
//   seconds pass). Closing with unread input would make the kernel send RST,
//   and a peer still sending would lose the answer it had not read yet.

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sidecar/event/stream_transports.h"

namespace tidemark::event::internal {
namespace {

constexpr size_t kMaxIoBytes = 1 << 20;  // per callback, so one busy socket cannot starve others
constexpr size_t kReadChunk = 256 << 10;
constexpr size_t kExactReadMin = 16 << 10;
constexpr int kMaxWriteIov = 64;
constexpr timeval kLinger{2, 0};  // how long a closing stream waits for the peer's FIN

bool wouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

class PlainStream final : public TcpStream {
 public:
  PlainStream(EventLoop& loop, std::string peer, Callbacks callbacks)
      : TcpStream(std::move(peer), std::move(callbacks)),
        base_(loop.base()),
        in_(evbuffer_new()),
        out_(evbuffer_new()),
        flush_ev_(event_new(base_, -1, 0, &PlainStream::onFlush, this)),
        linger_ev_(event_new(base_, -1, 0, &PlainStream::onLingerOver, this)) {}

  ~PlainStream() override {
    cancelResolve();
    for (::event* ev : {read_ev_, write_ev_, flush_ev_, linger_ev_}) {
      if (ev != nullptr) event_free(ev);
    }
    if (fd_ >= 0) ::close(fd_);
    evbuffer_free(in_);
    evbuffer_free(out_);
  }

  // Takes an accepted socket.
  void adopt(int fd) {
    evutil_make_socket_nonblocking(fd);
    setNoDelay(fd);
    attach(fd);
    resumeReading();
  }

  void connect(evdns_base* dns, const std::string& host, uint16_t port) {
    sockaddr_storage addr{};
    if (numericAddress(host, port, addr)) return connectTo(reinterpret_cast<sockaddr*>(&addr));
    evutil_addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    resolving_now_ = true;
    evdns_getaddrinfo_request* req = evdns_getaddrinfo(
        dns, host.c_str(), std::to_string(port).c_str(), &hints, &PlainStream::onResolved, this);
    // The callback may already have run (hosts file, cached answer).
    if (resolving_now_) resolve_ = req;
    resolving_now_ = false;
  }

  void expectBytes(size_t n) override { expected_ = n; }

  void pauseReading() override {
    want_read_ = false;
    if (reading_) {
      event_del(read_ev_);
      reading_ = false;
    }
  }

  void resumeReading() override {
    if (closed_ || closing_) return;
    want_read_ = true;
    if (!reading_ && !connecting_ && read_ev_ != nullptr) {
      event_add(read_ev_, nullptr);
      reading_ = true;
    }
  }

  void setDrainedMark(size_t bytes) override { drained_mark_ = bytes; }

  void closeAfterFlush() override {
    if (closed_ || closing_) return;
    pauseReading();
    closing_ = true;
    if (evbuffer_get_length(out_) > 0) return;          // flush() lingers once it is sent
    if (connecting_ || fd_ < 0) return shut("closed");  // nothing was ever sent
    linger();
  }

  void shut(std::string reason, bool notify = true) override {
    if (closed_) return;
    closed_ = true;
    cancelResolve();
    for (::event* ev : {read_ev_, write_ev_, flush_ev_, linger_ev_}) {
      if (ev != nullptr) event_del(ev);
    }
    reading_ = write_armed_ = flush_pending_ = false;
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (notify && callbacks_.on_closed) callbacks_.on_closed(std::move(reason));
  }

 protected:
  evbuffer* input() const override { return in_; }
  evbuffer* output() const override { return out_; }

  void outputAdded() override {
    if (flush_pending_ || write_armed_ || connecting_ || closed_ || fd_ < 0) return;
    flush_pending_ = true;
    event_active(flush_ev_, EV_WRITE, 1);
  }

 private:
  static bool numericAddress(const std::string& host, uint16_t port, sockaddr_storage& out) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(port);
      return true;
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(port);
      return true;
    }
    return false;
  }

  static void onResolved(int result, evutil_addrinfo* res, void* arg) {
    if (result == EVUTIL_EAI_CANCEL) return;  // the stream is closing or gone
    auto* s = static_cast<PlainStream*>(arg);
    s->resolve_ = nullptr;
    s->resolving_now_ = false;
    if (result != 0 || res == nullptr) {
      if (res != nullptr) evutil_freeaddrinfo(res);
      return s->shut(std::string("cannot resolve: ") + evutil_gai_strerror(result));
    }
    s->connectTo(res->ai_addr);
    evutil_freeaddrinfo(res);
  }

  void cancelResolve() {
    if (resolve_ == nullptr) return;
    evdns_getaddrinfo_request* req = resolve_;
    resolve_ = nullptr;
    evdns_getaddrinfo_cancel(req);
  }

  void connectTo(const sockaddr* addr) {
    const socklen_t len = addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return shut(std::strerror(errno));
    attach(fd);
    setNoDelay(fd);
    connecting_ = true;
    if (::connect(fd, addr, len) == 0) return connected();
    if (errno != EINPROGRESS) return shut(std::strerror(errno));
    armWrite();
  }

  void connected() {
    connecting_ = false;
    disarmWrite();
    if (want_read_) resumeReading();
    if (callbacks_.on_connected) callbacks_.on_connected();
    if (!closed_ && evbuffer_get_length(out_) > 0) outputAdded();
  }

  void attach(int fd) {
    fd_ = fd;
    read_ev_ = event_new(base_, fd, EV_READ | EV_PERSIST, &PlainStream::onReadable, this);
    write_ev_ = event_new(base_, fd, EV_WRITE | EV_PERSIST, &PlainStream::onWritable, this);
  }

  void armWrite() {
    if (write_armed_) return;
    event_add(write_ev_, nullptr);
    write_armed_ = true;
  }

  void disarmWrite() {
    if (!write_armed_) return;
    event_del(write_ev_);
    write_armed_ = false;
  }

  static void onReadable(evutil_socket_t, short, void* arg) {
    auto* s = static_cast<PlainStream*>(arg);
    if (s->lingering_) return s->dropInput();
    s->readSome();
  }

  static void onLingerOver(evutil_socket_t, short, void* arg) {
    static_cast<PlainStream*>(arg)->shut("closed");
  }

  // Everything is sent: FIN, then wait for the peer's (see the top).
  void linger() {
    if (fd_ < 0 || ::shutdown(fd_, SHUT_WR) != 0) return shut("closed");
    lingering_ = true;
    if (!reading_) {
      event_add(read_ev_, nullptr);
      reading_ = true;
    }
    event_add(linger_ev_, &kLinger);
  }

  void dropInput() {
    char sink[16 << 10];
    while (true) {
      const ssize_t got = ::read(fd_, sink, sizeof(sink));
      if (got > 0) continue;
      if (got < 0 && wouldBlock(errno)) return;
      return shut("closed");  // the peer's FIN (or an error): done
    }
  }

  static void onWritable(evutil_socket_t, short, void* arg) {
    auto* s = static_cast<PlainStream*>(arg);
    if (!s->connecting_) return s->flush();
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(s->fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return s->shut(std::strerror(err));
    s->connected();
  }

  static void onFlush(evutil_socket_t, short, void* arg) {
    auto* s = static_cast<PlainStream*>(arg);
    s->flush_pending_ = false;
    s->flush();
  }

  void readSome() {
    size_t total = 0;
    int error = 0;
    bool eof = false;
    while (total < kMaxIoBytes) {
      const size_t want = readSize();
      evbuffer_iovec vec[2];
      const int n = evbuffer_reserve_space(in_, want, vec, 2);
      if (n <= 0) break;
      iovec iov[2];
      size_t asked = 0;
      for (int i = 0; i < n; ++i) {
        const size_t len = std::min(vec[i].iov_len, want - asked);
        iov[i] = {vec[i].iov_base, len};
        asked += len;
      }
      const ssize_t got = ::readv(fd_, iov, n);
      if (got <= 0) {
        evbuffer_commit_space(in_, vec, 0);
        if (got == 0) eof = true;
        if (got < 0 && !wouldBlock(errno)) error = errno;
        break;
      }
      size_t left = static_cast<size_t>(got);
      for (int i = 0; i < n; ++i) {
        vec[i].iov_len = std::min(left, vec[i].iov_len);
        left -= vec[i].iov_len;
      }
      evbuffer_commit_space(in_, vec, n);
      total += static_cast<size_t>(got);
      if (static_cast<size_t>(got) < asked) break;  // drained: readiness reports the rest
      // The expected unit is complete: hand it over before reading on, so the
      // next bytes start a buffer of their own.
      if (want < kReadChunk && evbuffer_get_length(in_) >= expected_) break;
    }
    if (total > 0 && callbacks_.on_data) callbacks_.on_data();
    if (closed_) return;
    if (eof) return shut("peer closed the connection");
    if (error != 0) return shut(std::strerror(error));
  }

  // A full chunk, or exactly the rest of the unit the owner expects when that
  // is large (small units are cheaper to copy than to read separately).
  size_t readSize() const {
    const size_t buffered = evbuffer_get_length(in_);
    if (expected_ > buffered && expected_ - buffered >= kExactReadMin) {
      return std::min(expected_ - buffered, kReadChunk);
    }
    return kReadChunk;
  }

  void flush() {
    if (closed_ || connecting_ || fd_ < 0) return;
    size_t sent_total = 0;
    while (evbuffer_get_length(out_) > 0 && sent_total < kMaxIoBytes) {
      evbuffer_iovec vec[kMaxWriteIov];
      const int n =
          std::min(evbuffer_peek(out_, kMaxIoBytes, nullptr, vec, kMaxWriteIov), kMaxWriteIov);
      iovec iov[kMaxWriteIov];
      size_t offered = 0;
      for (int i = 0; i < n; ++i) {
        iov[i] = {vec[i].iov_base, vec[i].iov_len};
        offered += vec[i].iov_len;
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(n);
      const ssize_t sent = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (sent < 0) {
        if (wouldBlock(errno)) break;
        return shut(std::strerror(errno));
      }
      evbuffer_drain(out_, static_cast<size_t>(sent));
      sent_total += static_cast<size_t>(sent);
      if (static_cast<size_t>(sent) < offered) break;  // the socket is full
    }
    const size_t left = evbuffer_get_length(out_);
    if (left > 0) {
      armWrite();
    } else {
      disarmWrite();
      if (closing_ && !lingering_) return linger();
    }
    if (sent_total > 0 && left <= drained_mark_ && callbacks_.on_drained) callbacks_.on_drained();
  }

  event_base* base_;
  int fd_ = -1;
  evbuffer* in_;
  evbuffer* out_;
  ::event* read_ev_ = nullptr;
  ::event* write_ev_ = nullptr;
  ::event* flush_ev_;
  ::event* linger_ev_;
  bool lingering_ = false;
  evdns_getaddrinfo_request* resolve_ = nullptr;
  bool resolving_now_ = false;
  bool connecting_ = false;
  bool want_read_ = true;
  bool reading_ = false;
  bool write_armed_ = false;
  bool flush_pending_ = false;
  size_t drained_mark_ = 0;
  size_t expected_ = 0;
};

}  // namespace

std::unique_ptr<TcpStream> adoptPlain(EventLoop& loop, int fd, std::string peer,
                                      TcpStream::Callbacks callbacks) {
  auto s = std::make_unique<PlainStream>(loop, std::move(peer), std::move(callbacks));
  s->adopt(fd);
  return s;
}

std::unique_ptr<TcpStream> connectPlain(EventLoop& loop, evdns_base* dns, const std::string& host,
                                        uint16_t port, TcpStream::Callbacks callbacks) {
  auto s =
      std::make_unique<PlainStream>(loop, host + ":" + std::to_string(port), std::move(callbacks));
  s->connect(dns, host, port);
  return s;
}

}  // namespace tidemark::event::internal
