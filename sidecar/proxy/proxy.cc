#include "sidecar/proxy/proxy.h"

#include <unistd.h>

#include "sidecar/base/log.h"
#include "sidecar/config/duration.h"

namespace tidemark::proxy {

Proxy::Proxy(const config::Config& config, event::EventLoop& loop)
    : loop_(loop),
      listen_(*config::parseHostPort(config.proxy().listen())),
      max_frame_bytes_(config.proxy().max_frame_bytes()),
      connect_timeout_(config::toMillis(config.proxy().upstream().connect_timeout())),
      tls_config_(config.proxy().upstream().tls()),
      dns_(loop),
      brokers_(config.proxy().advertised_host(), config.proxy().broker_port_base(),
               [this](int32_t node_id) { openBrokerListener(node_id); }) {
  // The config was validated at load, so the list parses.
  auto servers = config::parseHostPortList(config.proxy().upstream().bootstrap_servers());
  if (servers.isOk()) {
    for (const auto& hp : *servers) bootstrap_servers_.push_back({hp.host, hp.port});
  }
}

Proxy::~Proxy() = default;

Status Proxy::start() {
  if (tls_config_.enabled()) {
    auto tls = event::TlsContext::create({tls_config_.ca_file(), tls_config_.cert_file(),
                                          tls_config_.key_file(), tls_config_.server_name(),
                                          tls_config_.verify()});
    if (!tls.isOk()) return tls.status().withPrefix("proxy.upstream.tls");
    tls_ = std::move(tls).value();
  }
  auto listener = event::TcpListener::listen(loop_, listen_, [this](int fd, std::string peer) {
    accept(fd, std::move(peer), std::nullopt);
  });
  if (!listener.isOk()) return listener.status().withPrefix("proxy.listen");
  bootstrap_ = std::move(listener).value();
  bootstrap_address_ = bootstrap_->address();
  TM_LOG(Info, "proxy", "listening").kv("addr", bootstrap_address_.toString());
  return Status::ok();
}

void Proxy::stopAccepting() {
  accepting_ = false;
  bootstrap_.reset();
  broker_listeners_.clear();
}

std::optional<UpstreamAddress> Proxy::bootstrapTarget() {
  if (bootstrap_servers_.empty()) return std::nullopt;
  // Round-robin: a client retrying after a failed broker lands on the next one.
  return bootstrap_servers_[next_bootstrap_++ % bootstrap_servers_.size()];
}

void Proxy::openBrokerListener(int32_t node_id) {
  auto port = brokers_.listenPort(node_id);
  if (!accepting_ || !port || broker_listeners_.count(node_id)) return;
  config::HostPort addr{listen_.host, *port};
  auto listener = event::TcpListener::listen(
      loop_, addr,
      [this, node_id](int fd, std::string peer) { accept(fd, std::move(peer), node_id); });
  if (!listener.isOk()) {
    TM_LOG(Error, "proxy", "cannot open broker listener")
        .kv("node_id", node_id)
        .kv("error", listener.status().message());
    failed_listeners_.insert(node_id);
    return;
  }
  failed_listeners_.erase(node_id);
  TM_LOG(Info, "proxy", "listening").kv("addr", addr.toString()).kv("node_id", node_id);
  broker_listeners_[node_id] = std::move(listener).value();
}

void Proxy::accept(int fd, std::string peer, std::optional<int32_t> node_id) {
  std::optional<UpstreamAddress> target = node_id ? brokers_.upstream(*node_id) : bootstrapTarget();
  if (!target) {
    TM_LOG(Warn, "proxy", "no upstream for connection").kv("peer", peer);
    ::close(fd);
    return;
  }
  SessionOptions options{max_frame_bytes_,
                         tls_.get(),
                         node_id ? "broker-" + std::to_string(*node_id) : "bootstrap",
                         offset_hooks_,
                         metrics_.get(),
                         watermark_sink_,
                         connect_timeout_};
  auto session = std::make_unique<Session>(loop_, dns_.base(), fd, std::move(peer), *target,
                                           std::move(options), RewriteContext{brokers_, topics_},
                                           [this](Session* s) {
                                             // Never destroy a session inside its own callback:
                                             // defer to the loop.
                                             loop_.post([this, s] { sessions_.erase(s); });
                                           });
  Session* raw = session.get();
  sessions_.emplace(raw, std::move(session));
}

}  // namespace tidemark::proxy
