#include "sidecar/event/tcp_stream.h"

#include <event2/buffer.h>
#include <event2/dns.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "sidecar/event/stream_transports.h"

namespace tidemark::event {

std::unique_ptr<TcpStream> TcpStream::adopt(EventLoop& loop, int fd, std::string peer,
                                            Callbacks callbacks) {
  return internal::adoptPlain(loop, fd, std::move(peer), std::move(callbacks));
}

std::unique_ptr<TcpStream> TcpStream::connect(EventLoop& loop, evdns_base* dns,
                                              const std::string& host, uint16_t port,
                                              Callbacks callbacks, const TlsContext* tls) {
  if (tls != nullptr)
    return internal::connectTls(loop, dns, host, port, std::move(callbacks), *tls);
  return internal::connectPlain(loop, dns, host, port, std::move(callbacks));
}

size_t TcpStream::inputSize() const { return evbuffer_get_length(input()); }

size_t TcpStream::peek(char* dst, size_t n) const {
  ev_ssize_t got = evbuffer_copyout(input(), dst, n);
  return got < 0 ? 0 : static_cast<size_t>(got);
}

std::string TcpStream::take(size_t n) {
  std::string out(n, '\0');
  int got = evbuffer_remove(input(), out.data(), n);
  out.resize(got < 0 ? 0 : static_cast<size_t>(got));
  return out;
}

void TcpStream::takeAllInto(std::string& dst) {
  const size_t n = inputSize();
  const size_t old = dst.size();
  dst.resize(old + n);
  int got = evbuffer_remove(input(), dst.data() + old, n);
  dst.resize(old + (got < 0 ? 0 : static_cast<size_t>(got)));
}

void TcpStream::moveTo(TcpStream& dst, size_t n) {
  if (dst.closed_) {
    evbuffer_drain(input(), n);
    return;
  }
  evbuffer_remove_buffer(input(), dst.output(), n);
  dst.outputAdded();
}

void TcpStream::write(std::string_view bytes) {
  if (closed_) return;
  evbuffer_add(output(), bytes.data(), bytes.size());
  outputAdded();
}

size_t TcpStream::outputSize() const { return closed_ ? 0 : evbuffer_get_length(output()); }

void internal::setNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

DnsResolver::DnsResolver(EventLoop& loop)
    : dns_(evdns_base_new(loop.base(), EVDNS_BASE_INITIALIZE_NAMESERVERS)) {}

DnsResolver::~DnsResolver() {
  if (dns_ != nullptr) evdns_base_free(dns_, 0);
}

}  // namespace tidemark::event
