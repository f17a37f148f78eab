#pragma once

// Per-partition progress for /metrics, every few seconds: the committed
// offset of each partition a member behind this sidecar holds (the sealed
// view), the partition's high watermark, and their difference, the lag (what
// the application has yet to process):
//   tidemark_partition_committed_offset{group,topic,partition}
//   tidemark_partition_high_watermark{topic,partition}
//   tidemark_partition_lag{group,topic,partition}
//
// The high watermark comes from the application's own Fetch answers as they
// pass through the proxy (it is a WatermarkSink), at no cost to the cluster.
// A partition the application has not fetched within kFreshFor (it stopped,
// is stuck, or paused the partition: exactly when lag matters) is asked of
// the cluster instead, with ListOffsets on a worker thread.
//   tidemark_partition_watermark_updates_total{source="fetch"|"cluster"}
// counts the high watermarks the gauges took from each. Gauges of partitions
// that moved away are removed. Loop thread only.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "sidecar/checkpoint/coordinator.h"
#include "sidecar/event/worker_thread.h"
#include "sidecar/kafka/watermarks.h"
#include "sidecar/metrics/registry.h"
#include "sidecar/proxy/fetch_watermarks.h"

namespace tidemark::server {

class LagMonitor : public proxy::WatermarkSink {
 public:
  static constexpr std::chrono::seconds kPeriod{5};
  static constexpr std::chrono::seconds kFreshFor{10};

  // `owned` says which partitions a member behind this sidecar holds (the
  // sealed view also keeps partitions that moved to other instances).
  // `reader` may be null: then only fetched partitions have a watermark.
  LagMonitor(event::EventLoop& loop, checkpoint::Coordinator& coordinator,
             metrics::Registry& registry, std::unique_ptr<kafka::WatermarkReader> reader,
             std::function<bool(const checkpoint::PartitionId&)> owned);
  ~LagMonitor() override;
  void start();

  void observed(const std::string& topic, int32_t partition, int64_t high_watermark) override;

 private:
  struct Seen {
    int64_t high_watermark = 0;
    std::chrono::steady_clock::time_point at;
  };
  using Offsets = std::map<checkpoint::PartitionId, checkpoint::CommittedOffset>;

  void poll();
  void publish(const Offsets& offsets, const std::map<kafka::TopicPartition, int64_t>& high,
               const char* source);

  event::EventLoop& loop_;
  checkpoint::Coordinator& coordinator_;
  metrics::Registry& registry_;
  std::unique_ptr<kafka::WatermarkReader> reader_;
  std::function<bool(const checkpoint::PartitionId&)> owned_;
  std::map<kafka::TopicPartition, Seen> fetched_;  // from Fetch answers
  std::set<checkpoint::PartitionId> reported_;     // the partitions with gauges
  std::unique_ptr<event::Timer> timer_;
  std::unique_ptr<event::WorkerThread> worker_;  // last: joined before reader_ goes
  bool in_flight_ = false;
};

}  // namespace tidemark::server
