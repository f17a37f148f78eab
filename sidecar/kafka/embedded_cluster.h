#pragma once

// An embedded Kafka cluster: librdkafka's mock cluster (rdkafka_mock.h), a real
// Kafka-protocol server on loopback TCP with brokers, topics, consumer groups
// and fault injection. `tidemark dev` and the integration tests run on it.
//
// The mock runs on librdkafka's own threads; every method here is thread-safe
// (librdkafka serialises them onto the mock's thread).
//
// Limits worth knowing: the mock keeps only the newest ~5 MB of each
// partition, and the generation it speaks depends on the librdkafka it runs
// on (Debian's 2.0.2 speaks pre-flexible versions only).

#include <cstdint>
#include <memory>
#include <string>

#include "sidecar/base/status.h"

namespace tidemark::kafka {

class EmbeddedCluster {
 public:
  // Starts `brokers` brokers (node ids 1..brokers) on ephemeral loopback ports.
  static StatusOr<std::unique_ptr<EmbeddedCluster>> start(int brokers);
  ~EmbeddedCluster();
  EmbeddedCluster(const EmbeddedCluster&) = delete;
  EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

  // "127.0.0.1:P1,127.0.0.1:P2,..." — what a client would bootstrap from.
  std::string bootstrapServers() const;
  int brokerCount() const { return brokers_; }

  Status createTopic(const std::string& name, int partitions, int replication_factor);
  Status setBrokerDown(int32_t node_id);
  Status setBrokerUp(int32_t node_id);

  // The librdkafka version the mock runs on ("2.0.2"), i.e. its protocol generation.
  static std::string libraryVersion();

 private:
  struct Handles;
  explicit EmbeddedCluster(std::unique_ptr<Handles> h, int brokers);
  std::unique_ptr<Handles> handles_;
  int brokers_;
};

}  // namespace tidemark::kafka
