#pragma once

// Whether the upstream cluster can be reached, for /readyz: every few seconds
// a TCP connection is opened to the next bootstrap server in turn and closed
// again once connected. Reachable = the latest attempt, or one within the
// last two periods, connected (one flaky broker among several is not an
// outage). Loop thread only.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sidecar/config/scalars.h"
#include "sidecar/event/event_loop.h"
#include "sidecar/event/tcp_stream.h"

namespace tidemark::server {

class UpstreamProbe {
 public:
  UpstreamProbe(event::EventLoop& loop, std::vector<config::HostPort> servers,
                std::chrono::milliseconds period = std::chrono::seconds(5));
  void start();

  bool reachable() const;
  // Why not reachable: the last failure (empty while reachable).
  const std::string& lastError() const { return last_error_; }

 private:
  void probe();
  void finished(bool connected, std::string error);

  event::EventLoop& loop_;
  std::vector<config::HostPort> servers_;
  std::chrono::milliseconds period_;
  size_t next_ = 0;
  event::DnsResolver dns_;
  std::unique_ptr<event::TcpStream> stream_;
  std::unique_ptr<event::Timer> timer_;
  std::unique_ptr<event::Timer> give_up_;
  std::chrono::steady_clock::time_point last_success_{};
  bool ever_probed_ = false;
  std::string last_error_;
};

}  // namespace tidemark::server
