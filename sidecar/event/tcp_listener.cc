#include "sidecar/event/tcp_listener.h"

#include <arpa/inet.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace tidemark::event {

std::string formatAddress(const sockaddr* addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (addr->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (addr->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return "unknown";
}

StatusOr<std::unique_ptr<TcpListener>> TcpListener::listen(EventLoop& loop,
                                                           const config::HostPort& address,
                                                           AcceptCallback on_accept) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(address.port);
  if (int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return unavailable("cannot resolve listen address " + address.toString() + ": " +
                       gai_strerror(rc));
  }
  std::unique_ptr<TcpListener> l(new TcpListener(std::move(on_accept)));
  l->listener_ =
      evconnlistener_new_bind(loop.base(), &TcpListener::onAccept, l.get(),
                              LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                              1024, res->ai_addr, static_cast<int>(res->ai_addrlen));
  freeaddrinfo(res);
  if (l->listener_ == nullptr) {
    return unavailable("cannot listen on " + address.toString() + ": " + std::strerror(errno));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(evconnlistener_get_fd(l->listener_), reinterpret_cast<sockaddr*>(&ss), &len);
  l->bound_ = address;
  l->bound_.port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                            : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return l;
}

TcpListener::~TcpListener() {
  if (listener_ != nullptr) evconnlistener_free(listener_);
}

void TcpListener::onAccept(evconnlistener*, int fd, sockaddr* addr, int, void* self) {
  static_cast<TcpListener*>(self)->on_accept_(fd, formatAddress(addr));
}

}  // namespace tidemark::event
