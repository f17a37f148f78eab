#include "sidecar/server/remote_config.h"

#include <unistd.h>

#include <cstdlib>

#include "sidecar/config/duration.h"

namespace tidemark::server {

std::string instanceId(const config::Config& config) {
  if (!config.job().instance_id().empty()) return config.job().instance_id();
  for (const char* var : {"POD_NAME", "HOSTNAME"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') return v;
  }
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0') return host;
  return "default";
}

kafka::ClientTls upstreamTls(const config::Config& config) {
  const auto& t = config.proxy().upstream().tls();
  return {t.enabled(), t.ca_file(), t.cert_file(), t.key_file(), t.verify()};
}

kafka::KafkaRemoteOptions remoteOptions(const config::Config& config) {
  const auto& rk = config.remote().kafka();
  kafka::KafkaRemoteOptions options;
  options.bootstrap_servers = rk.bootstrap_servers().empty()
                                  ? config.proxy().upstream().bootstrap_servers()
                                  : rk.bootstrap_servers();
  if (rk.bootstrap_servers().empty()) options.tls = upstreamTls(config);
  options.topic = rk.topic();
  options.partitions = static_cast<int32_t>(rk.partitions());
  options.replication_factor =
      rk.replication_factor() == 0 ? -1 : static_cast<int32_t>(rk.replication_factor());
  options.chunk_bytes = static_cast<uint32_t>(rk.chunk_bytes());
  options.job_id = config.job().id();
  options.instance_id = instanceId(config);
  options.timeout = config::toMillis(rk.timeout());
  return options;
}

}  // namespace tidemark::server
