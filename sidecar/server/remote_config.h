#pragma once

// What a config says about the sidecar's own Kafka clients — its instance,
// the upstream cluster's TLS, the remote checkpoint topic — for the sidecar
// and for the CLI commands that read the same remote.

#include <string>

#include "sidecar/config/loader.h"
#include "sidecar/kafka/client_config.h"
#include "sidecar/kafka/kafka_remote_backend.h"

namespace tidemark::server {

// job.instance_id, else the pod's name ($POD_NAME, $HOSTNAME), else the host's.
std::string instanceId(const config::Config& config);
// The sidecar's own clients reach the upstream cluster as the proxy does.
kafka::ClientTls upstreamTls(const config::Config& config);
// The remote backend's options (remote.kafka.*; the upstream cluster and its
// TLS unless remote.kafka.bootstrap_servers names another).
kafka::KafkaRemoteOptions remoteOptions(const config::Config& config);

}  // namespace tidemark::server
