#include "sidecar/server/upstream_probe.h"

namespace tidemark::server {

UpstreamProbe::UpstreamProbe(event::EventLoop& loop, std::vector<config::HostPort> servers,
                             std::chrono::milliseconds period)
    : loop_(loop), servers_(std::move(servers)), period_(period), dns_(loop) {}

void UpstreamProbe::start() {
  timer_ = loop_.createTimer([this] { probe(); });
  give_up_ = loop_.createTimer([this] {
    finished(false, "connecting to " +
                        servers_[(next_ + servers_.size() - 1) % servers_.size()].toString() +
                        " timed out");
  });
  probe();
}

bool UpstreamProbe::reachable() const {
  if (!ever_probed_) return true;  // not known to be down: the first probe is under way
  return std::chrono::steady_clock::now() - last_success_ <= 2 * period_ + period_ / 2;
}

void UpstreamProbe::probe() {
  if (servers_.empty()) return;
  const config::HostPort& target = servers_[next_++ % servers_.size()];
  event::TcpStream::Callbacks callbacks;
  callbacks.on_connected = [this] { loop_.post([this] { finished(true, ""); }); };
  callbacks.on_closed = [this, target](std::string reason) {
    loop_.post([this, target, reason] {
      finished(false, "cannot connect to " + target.toString() + ": " + reason);
    });
  };
  give_up_->arm(period_);
  stream_ =
      event::TcpStream::connect(loop_, dns_.base(), target.host, target.port, std::move(callbacks));
}

// Posted from the stream's callbacks, so the stream is never destroyed inside
// its own callback; a late second report of the same attempt is ignored.
void UpstreamProbe::finished(bool connected, std::string error) {
  if (!stream_) return;
  stream_->close();
  stream_.reset();
  give_up_->cancel();
  ever_probed_ = true;
  if (connected) {
    last_success_ = std::chrono::steady_clock::now();
    last_error_.clear();
  } else {
    last_error_ = std::move(error);
  }
  timer_->arm(period_);
}

}  // namespace tidemark::server
