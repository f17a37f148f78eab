#pragma once

// The upstream cluster's brokers as its metadata lists them, read once at
// start with the sidecar's own librdkafka client, so that the proxy listens
// for every broker before any application connects. Otherwise a listener
// opens only when a Metadata answer names its broker: a client that kept the
// per-broker addresses across a sidecar restart (kafka-python, older Java
// clients) and never goes back to bootstrap would retry a closed port forever.

#include <chrono>
#include <string>
#include <vector>

#include "sidecar/base/status.h"
#include "sidecar/kafka/client_config.h"

namespace tidemark::kafka {

struct BrokerAddress {
  int32_t node_id;
  std::string host;
  int32_t port;
};

// Blocks for at most `timeout`.
StatusOr<std::vector<BrokerAddress>> listBrokers(const std::string& bootstrap_servers,
                                                 const ClientTls& tls,
                                                 std::chrono::milliseconds timeout);

}  // namespace tidemark::kafka
