#pragma once

// Builds librdkafka configurations for the sidecar's own Kafka clients (group
// commits, the remote checkpoint backend): one place for bootstrap servers,
// TLS to the cluster and error reporting.

#include <string>
#include <utility>
#include <vector>

#include "sidecar/base/status.h"

struct rd_kafka_conf_s;

namespace tidemark::kafka {

struct ClientTls {
  bool enabled = false;
  std::string ca_file, cert_file, key_file;
  bool verify = true;
};

// A new configuration with bootstrap.servers, TLS, quiet connection-close
// logs, then `settings` in order. The caller owns the result (rd_kafka_new
// takes it over, or rd_kafka_conf_destroy).
StatusOr<rd_kafka_conf_s*> makeConfig(
    const std::string& bootstrap_servers, const ClientTls& tls,
    const std::vector<std::pair<std::string, std::string>>& settings);

}  // namespace tidemark::kafka
