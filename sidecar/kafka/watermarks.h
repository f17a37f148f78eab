#pragma once

// High watermarks of partitions, from the upstream cluster, with one
// long-lived librdkafka consumer handle that never joins a group. Blocking:
// call from a worker thread.

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "sidecar/base/status.h"
#include "sidecar/kafka/client_config.h"

struct rd_kafka_s;

namespace tidemark::kafka {

using TopicPartition = std::pair<std::string, int32_t>;

class WatermarkReader {
 public:
  static StatusOr<std::unique_ptr<WatermarkReader>> create(const std::string& bootstrap_servers,
                                                           const ClientTls& tls);
  ~WatermarkReader();
  WatermarkReader(const WatermarkReader&) = delete;
  WatermarkReader& operator=(const WatermarkReader&) = delete;

  // The high watermark of each partition the cluster answered for within
  // `timeout` (each); partitions it could not answer are left out.
  std::map<TopicPartition, int64_t> highWatermarks(const std::set<TopicPartition>& partitions,
                                                   std::chrono::milliseconds timeout);

 private:
  WatermarkReader() = default;
  rd_kafka_s* rk_ = nullptr;
};

}  // namespace tidemark::kafka
