#include "sidecar/event/tcp_stream.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

namespace tidemark::event {
namespace {

constexpr size_t kMaxIoBytes = 1 << 20;
constexpr size_t kReadChunk = 256 << 10;

void setNoDelay(evutil_socket_t fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

TcpStream::TcpStream(bufferevent* bev, std::string peer, Callbacks callbacks)
    : bev_(bev), peer_(std::move(peer)), callbacks_(std::move(callbacks)) {
  bufferevent_setcb(bev_, &TcpStream::onRead, &TcpStream::onWrite, &TcpStream::onEvent, this);
  // libevent's default moves at most 16 KiB per read/write call; Kafka
  // fetches and produces move megabytes, and each call is a syscall.
  bufferevent_set_max_single_read(bev_, kMaxIoBytes);
  bufferevent_set_max_single_write(bev_, kMaxIoBytes);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
}

std::unique_ptr<TcpStream> TcpStream::adopt(EventLoop& loop, int fd, std::string peer,
                                            Callbacks callbacks) {
  setNoDelay(fd);
  bufferevent* bev = bufferevent_socket_new(loop.base(), fd, BEV_OPT_CLOSE_ON_FREE);
  return std::unique_ptr<TcpStream>(new TcpStream(bev, std::move(peer), std::move(callbacks)));
}

std::unique_ptr<TcpStream> TcpStream::connect(EventLoop& loop, evdns_base* dns,
                                              const std::string& host, uint16_t port,
                                              Callbacks callbacks, const TlsContext* tls) {
  bufferevent* bev = nullptr;
  if (tls != nullptr) {
    SSL* ssl = tls->newClient(host);
    if (ssl != nullptr) {
      bev = bufferevent_openssl_socket_new(loop.base(), -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                           BEV_OPT_CLOSE_ON_FREE);
    }
  }
  if (bev == nullptr) bev = bufferevent_socket_new(loop.base(), -1, BEV_OPT_CLOSE_ON_FREE);
  std::unique_ptr<TcpStream> s(
      new TcpStream(bev, host + ":" + std::to_string(port), std::move(callbacks)));
  s->tls_ = tls != nullptr;
  if (tls != nullptr && bufferevent_openssl_get_ssl(bev) == nullptr) {
    s->shut("TLS: cannot create a session: " + lastTlsError());
    return s;
  }
  if (bufferevent_socket_connect_hostname(bev, dns, AF_UNSPEC, host.c_str(), port) != 0) {
    s->shut("cannot connect to " + s->peer_);
  }
  return s;
}

TcpStream::~TcpStream() {
  if (bev_ != nullptr) bufferevent_free(bev_);
}

size_t TcpStream::inputSize() const { return evbuffer_get_length(bufferevent_get_input(bev_)); }

size_t TcpStream::peek(char* dst, size_t n) const {
  ev_ssize_t got = evbuffer_copyout(bufferevent_get_input(bev_), dst, n);
  return got < 0 ? 0 : static_cast<size_t>(got);
}

std::string TcpStream::take(size_t n) {
  std::string out(n, '\0');
  ev_ssize_t got = evbuffer_remove(bufferevent_get_input(bev_), out.data(), n);
  out.resize(got < 0 ? 0 : static_cast<size_t>(got));
  return out;
}

void TcpStream::moveTo(TcpStream& dst, size_t n) {
  evbuffer_remove_buffer(bufferevent_get_input(bev_), bufferevent_get_output(dst.bev_), n);
}

void TcpStream::pauseReading() {
  if (!closed_) bufferevent_disable(bev_, EV_READ);
}

void TcpStream::resumeReading() {
  if (!closed_ && !closing_) bufferevent_enable(bev_, EV_READ);
}

void TcpStream::write(std::string_view bytes) {
  if (!closed_) bufferevent_write(bev_, bytes.data(), bytes.size());
}

size_t TcpStream::outputSize() const {
  return closed_ ? 0 : evbuffer_get_length(bufferevent_get_output(bev_));
}

void TcpStream::setDrainedMark(size_t bytes) { bufferevent_setwatermark(bev_, EV_WRITE, bytes, 0); }

void TcpStream::closeAfterFlush() {
  if (closed_ || closing_) return;
  closing_ = true;
  bufferevent_disable(bev_, EV_READ);
  if (outputSize() == 0) shut("closed");
}

void TcpStream::close() { shut("closed", /*notify=*/false); }

void TcpStream::shut(std::string reason, bool notify) {
  if (closed_) return;
  closed_ = true;
  bufferevent_disable(bev_, EV_READ | EV_WRITE);
  // Close the socket now; the bufferevent itself is freed with this object.
  evutil_socket_t fd = bufferevent_getfd(bev_);
  if (fd >= 0) {
    bufferevent_setfd(bev_, -1);
    evutil_closesocket(fd);
  }
  if (notify && callbacks_.on_closed) callbacks_.on_closed(std::move(reason));
}

// libevent 2.1's bufferevent reads at most 4 KiB per call (EVBUFFER_MAX_READ),
// which makes the proxy's forwarding cost one syscall per 4 KiB. For plain
// sockets, drain what the kernel holds in large reads ourselves. Returns false
// when the peer has closed (the caller reports it after delivering the data).
bool TcpStream::drainSocket() {
  evutil_socket_t fd = bufferevent_getfd(bev_);
  if (tls_ || fd < 0) return true;
  evbuffer* input = bufferevent_get_input(bev_);
  // The socket bufferevent keeps its input's end frozen except while it reads
  // itself; thaw it for our read, as it does.
  evbuffer_unfreeze(input, 0);
  struct Refreeze {
    evbuffer* b;
    ~Refreeze() { evbuffer_freeze(b, 0); }
  } refreeze{input};
  size_t total = 0;
  while (total < kMaxIoBytes) {
    evbuffer_iovec vec[2];
    int n = evbuffer_reserve_space(input, kReadChunk, vec, 2);
    if (n <= 0) return true;
    iovec iov[2];
    for (int i = 0; i < n; ++i) {
      iov[i].iov_base = vec[i].iov_base;
      iov[i].iov_len = vec[i].iov_len;
    }
    ssize_t got = readv(fd, iov, n);
    if (got <= 0) {
      evbuffer_commit_space(input, vec, 0);
      if (got == 0) return false;
      return true;  // EAGAIN (drained) or an error the next event reports
    }
    size_t left = static_cast<size_t>(got);
    for (int i = 0; i < n; ++i) {
      size_t used = std::min(left, vec[i].iov_len);
      vec[i].iov_len = used;
      left -= used;
    }
    evbuffer_commit_space(input, vec, n);
    total += static_cast<size_t>(got);
  }
  return true;
}

void TcpStream::onRead(bufferevent*, void* self) {
  auto* s = static_cast<TcpStream*>(self);
  const bool open = s->drainSocket();
  if (s->callbacks_.on_data) s->callbacks_.on_data();
  if (!open && !s->closed_) s->shut("peer closed the connection");
}

void TcpStream::onWrite(bufferevent*, void* self) {
  auto* s = static_cast<TcpStream*>(self);
  if (s->closing_ && s->outputSize() == 0) return s->shut("closed");
  if (s->callbacks_.on_drained) s->callbacks_.on_drained();
}

void TcpStream::onEvent(bufferevent* bev, short what, void* self) {
  auto* s = static_cast<TcpStream*>(self);
  if (what & BEV_EVENT_CONNECTED) {
    setNoDelay(bufferevent_getfd(bev));
    if (s->callbacks_.on_connected) s->callbacks_.on_connected();
    return;
  }
  if (what & BEV_EVENT_EOF) return s->shut("peer closed the connection");
  if (what & BEV_EVENT_ERROR) {
    int dns_err = bufferevent_socket_get_dns_error(bev);
    if (dns_err != 0)
      return s->shut(std::string("cannot resolve: ") + evutil_gai_strerror(dns_err));
    if (s->tls_) {
      SSL* ssl = bufferevent_openssl_get_ssl(bev);
      long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
      if (verify != X509_V_OK) {
        return s->shut(std::string("TLS: certificate verify failed: ") +
                       X509_verify_cert_error_string(verify));
      }
      if (unsigned long e = bufferevent_get_openssl_error(bev)) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof(buf));
        return s->shut(std::string("TLS: ") + buf);
      }
    }
    int err = EVUTIL_SOCKET_ERROR();
    return s->shut(err ? evutil_socket_error_to_string(err) : "connection error");
  }
}

DnsResolver::DnsResolver(EventLoop& loop)
    : dns_(evdns_base_new(loop.base(), EVDNS_BASE_INITIALIZE_NAMESERVERS)) {}

DnsResolver::~DnsResolver() {
  if (dns_ != nullptr) evdns_base_free(dns_, 0);
}

}  // namespace tidemark::event
