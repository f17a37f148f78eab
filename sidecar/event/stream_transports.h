#pragma once

// The two transports behind TcpStream (internal to sidecar/event). Owners use
// TcpStream::adopt / TcpStream::connect, which pick one.

#include <memory>
#include <string>

#include "sidecar/event/tcp_stream.h"

namespace tidemark::event::internal {

// Plain sockets on the proxy's own non-blocking I/O (plain_stream.cc).
std::unique_ptr<TcpStream> adoptPlain(EventLoop& loop, int fd, std::string peer,
                                      TcpStream::Callbacks callbacks);
std::unique_ptr<TcpStream> connectPlain(EventLoop& loop, evdns_base* dns, const std::string& host,
                                        uint16_t port, TcpStream::Callbacks callbacks);

// TLS on libevent's OpenSSL bufferevent (tls_stream.cc).
std::unique_ptr<TcpStream> connectTls(EventLoop& loop, evdns_base* dns, const std::string& host,
                                      uint16_t port, TcpStream::Callbacks callbacks,
                                      const TlsContext& tls);

// Sets TCP_NODELAY: Kafka requests are small and latency-bound.
void setNoDelay(int fd);

}  // namespace tidemark::event::internal
