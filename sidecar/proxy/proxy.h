#pragma once

// The Kafka wire-protocol proxy: the bootstrap listener the application dials,
// one listener per upstream broker (advertised_host:broker_port_base+node id,
// opened the first time the broker appears in a response), and one Session
// per accepted connection. Owns the BrokerMap and TopicCache the sessions
// share. Loop thread only.

#include <map>
#include <memory>
#include <optional>
#include <set>

#include "sidecar/config/loader.h"
#include "sidecar/event/tcp_listener.h"
#include "sidecar/event/tcp_stream.h"
#include "sidecar/proxy/broker_map.h"
#include "sidecar/proxy/proxy_metrics.h"
#include "sidecar/proxy/session.h"
#include "sidecar/proxy/topic_cache.h"

namespace tidemark::proxy {

class Proxy {
 public:
  Proxy(const config::Config& config, event::EventLoop& loop);
  ~Proxy();

  // Binds the bootstrap listener.
  Status start();

  // Checkpointing for every later connection (nullptr: offsets pass through).
  void setOffsetHooks(OffsetHooks* hooks) { offset_hooks_ = hooks; }
  // Where the high watermarks in Fetch answers go (the lag metrics). Call before start().
  void setWatermarkSink(WatermarkSink* sink) { watermark_sink_ = sink; }
  // Publishes the proxy's counters in `registry`. Call before start().
  void setMetrics(metrics::Registry& registry) {
    metrics_ = std::make_unique<ProxyMetrics>(registry);
  }

  // A broker the cluster has (its metadata, read at start): its listener
  // opens now rather than when a Metadata answer first names it.
  void learnBroker(int32_t node_id, const std::string& host, int32_t port) {
    brokers_.learn(node_id, host, port);
  }

  // Closes every listener (bootstrap and brokers) and opens no more; open
  // sessions keep running until they close. For the end of a shutdown.
  void stopAccepting();

  config::HostPort bootstrapAddress() const { return bootstrap_address_; }
  // Broker listeners that could not be opened (their port was taken): the
  // application cannot reach those brokers, so the sidecar is not ready.
  const std::set<int32_t>& failedBrokerListeners() const { return failed_listeners_; }
  size_t openSessions() const { return sessions_.size(); }
  const TopicCache& topics() const { return topics_; }

 private:
  void accept(int fd, std::string peer, std::optional<int32_t> node_id);
  void openBrokerListener(int32_t node_id);
  std::optional<UpstreamAddress> bootstrapTarget();

  event::EventLoop& loop_;
  config::HostPort listen_;
  std::vector<UpstreamAddress> bootstrap_servers_;
  size_t next_bootstrap_ = 0;
  size_t max_frame_bytes_;
  std::chrono::milliseconds connect_timeout_;
  config::v1::UpstreamTls tls_config_;
  std::unique_ptr<event::TlsContext> tls_;
  event::DnsResolver dns_;
  BrokerMap brokers_;
  TopicCache topics_;
  std::unique_ptr<event::TcpListener> bootstrap_;
  config::HostPort bootstrap_address_;
  bool accepting_ = true;
  std::set<int32_t> failed_listeners_;
  std::map<int32_t, std::unique_ptr<event::TcpListener>> broker_listeners_;
  std::unique_ptr<ProxyMetrics> metrics_;  // before the sessions that use it
  std::map<Session*, std::unique_ptr<Session>> sessions_;
  OffsetHooks* offset_hooks_ = nullptr;
  WatermarkSink* watermark_sink_ = nullptr;
};

}  // namespace tidemark::proxy
