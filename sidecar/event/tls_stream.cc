// TLS connections to upstream on libevent's OpenSSL bufferevent. TLS records
// need their own framing and renegotiation handling, which the bufferevent
// already gets right; plain sockets use plain_stream.cc instead.

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "sidecar/event/stream_transports.h"

namespace tidemark::event::internal {
namespace {

constexpr size_t kMaxIoBytes = 1 << 20;

class TlsStream final : public TcpStream {
 public:
  TlsStream(bufferevent* bev, std::string peer, Callbacks callbacks)
      : TcpStream(std::move(peer), std::move(callbacks)), bev_(bev) {
    bufferevent_setcb(bev_, &TlsStream::onRead, &TlsStream::onWrite, &TlsStream::onEvent, this);
    bufferevent_set_max_single_read(bev_, kMaxIoBytes);
    bufferevent_set_max_single_write(bev_, kMaxIoBytes);
    bufferevent_enable(bev_, EV_READ | EV_WRITE);
  }
  ~TlsStream() override {
    if (bev_ != nullptr) bufferevent_free(bev_);
  }

  bufferevent* bev() { return bev_; }

  void pauseReading() override {
    if (!closed_) bufferevent_disable(bev_, EV_READ);
  }
  void resumeReading() override {
    if (!closed_ && !closing_) bufferevent_enable(bev_, EV_READ);
  }
  void setDrainedMark(size_t bytes) override { bufferevent_setwatermark(bev_, EV_WRITE, bytes, 0); }
  void closeAfterFlush() override {
    if (closed_ || closing_) return;
    closing_ = true;
    bufferevent_disable(bev_, EV_READ);
    if (outputSize() == 0) shut("closed");
  }

  // Public for the factory: fails the stream before it ever connects.
  void shut(std::string reason, bool notify = true) override {
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

 protected:
  evbuffer* input() const override { return bufferevent_get_input(bev_); }
  evbuffer* output() const override { return bufferevent_get_output(bev_); }
  void outputAdded() override {}  // the bufferevent watches its own output

 private:
  static void onRead(bufferevent*, void* self) {
    auto* s = static_cast<TlsStream*>(self);
    if (s->callbacks_.on_data) s->callbacks_.on_data();
  }

  static void onWrite(bufferevent*, void* self) {
    auto* s = static_cast<TlsStream*>(self);
    if (s->closing_ && s->outputSize() == 0) return s->shut("closed");
    if (s->callbacks_.on_drained) s->callbacks_.on_drained();
  }

  static void onEvent(bufferevent* bev, short what, void* self) {
    auto* s = static_cast<TlsStream*>(self);
    if (what & BEV_EVENT_CONNECTED) {
      setNoDelay(bufferevent_getfd(bev));
      if (s->callbacks_.on_connected) s->callbacks_.on_connected();
      return;
    }
    if (what & BEV_EVENT_EOF) return s->shut("peer closed the connection");
    if (what & BEV_EVENT_ERROR) return s->shut(s->describeError());
  }

  std::string describeError() {
    int dns_err = bufferevent_socket_get_dns_error(bev_);
    if (dns_err != 0) return std::string("cannot resolve: ") + evutil_gai_strerror(dns_err);
    SSL* ssl = bufferevent_openssl_get_ssl(bev_);
    long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (verify != X509_V_OK) {
      return std::string("TLS: certificate verify failed: ") +
             X509_verify_cert_error_string(verify);
    }
    if (unsigned long e = bufferevent_get_openssl_error(bev_)) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof(buf));
      return std::string("TLS: ") + buf;
    }
    int err = EVUTIL_SOCKET_ERROR();
    return err ? evutil_socket_error_to_string(err) : "connection error";
  }

  bufferevent* bev_;
};

}  // namespace

std::unique_ptr<TcpStream> connectTls(EventLoop& loop, evdns_base* dns, const std::string& host,
                                      uint16_t port, TcpStream::Callbacks callbacks,
                                      const TlsContext& tls) {
  SSL* ssl = tls.newClient(host);
  bufferevent* bev =
      ssl == nullptr ? bufferevent_socket_new(loop.base(), -1, BEV_OPT_CLOSE_ON_FREE)
                     : bufferevent_openssl_socket_new(
                           loop.base(), -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
  auto s =
      std::make_unique<TlsStream>(bev, host + ":" + std::to_string(port), std::move(callbacks));
  if (ssl == nullptr) {
    s->shut("TLS: cannot create a session: " + lastTlsError());
  } else if (bufferevent_socket_connect_hostname(bev, dns, AF_UNSPEC, host.c_str(), port) != 0) {
    s->shut("cannot connect to " + s->peer());
  }
  return s;
}

}  // namespace tidemark::event::internal
