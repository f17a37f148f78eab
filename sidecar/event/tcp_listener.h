#pragma once

// A listening TCP socket on an EventLoop (libevent's evconnlistener behind one
// seam). Each accepted connection is handed over as a connected, non-blocking
// fd; the callback owns it. Loop thread only.

#include <functional>
#include <memory>
#include <string>

#include "sidecar/base/status.h"
#include "sidecar/config/scalars.h"
#include "sidecar/event/event_loop.h"

struct evconnlistener;
struct sockaddr;

namespace tidemark::event {

class TcpListener {
 public:
  // `peer` is "ip:port" of the remote end.
  using AcceptCallback = std::function<void(int fd, std::string peer)>;

  // Binds `address` (port 0 picks a free one) and starts accepting.
  static StatusOr<std::unique_ptr<TcpListener>> listen(EventLoop& loop,
                                                       const config::HostPort& address,
                                                       AcceptCallback on_accept);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  config::HostPort address() const { return bound_; }

 private:
  TcpListener(AcceptCallback cb) : on_accept_(std::move(cb)) {}
  static void onAccept(evconnlistener*, int fd, ::sockaddr* addr, int len, void* self);

  evconnlistener* listener_ = nullptr;
  config::HostPort bound_;
  AcceptCallback on_accept_;
};

// "ip:port" of a socket address.
std::string formatAddress(const ::sockaddr* addr);

}  // namespace tidemark::event
