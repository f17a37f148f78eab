#pragma once

// Per-partition progress for /metrics: every few seconds, the committed
// offset of each partition the application committed (the sealed view), the
// partition's high watermark asked of the cluster, and their difference, the
// lag (what the application has yet to process):
//   tidemark_partition_committed_offset{group,topic,partition}
//   tidemark_partition_high_watermark{topic,partition}
//   tidemark_partition_lag{group,topic,partition}
// Asking the cluster runs on a worker thread. A partition the application no
// longer owns keeps its last values. Loop thread only.

#include <chrono>
#include <functional>
#include <memory>
#include <set>

#include "sidecar/checkpoint/coordinator.h"
#include "sidecar/event/worker_thread.h"
#include "sidecar/kafka/watermarks.h"
#include "sidecar/metrics/registry.h"

namespace tidemark::server {

class LagMonitor {
 public:
  static constexpr std::chrono::seconds kPeriod{5};

  // Reports the partitions `owned` says the application holds here (the
  // sealed view also keeps partitions that moved to other instances).
  LagMonitor(event::EventLoop& loop, checkpoint::Coordinator& coordinator,
             metrics::Registry& registry, std::unique_ptr<kafka::WatermarkReader> reader,
             std::function<bool(const checkpoint::PartitionId&)> owned);
  ~LagMonitor();
  void start();

 private:
  void poll();

  event::EventLoop& loop_;
  checkpoint::Coordinator& coordinator_;
  metrics::Registry& registry_;
  std::unique_ptr<kafka::WatermarkReader> reader_;
  std::function<bool(const checkpoint::PartitionId&)> owned_;
  std::set<checkpoint::PartitionId> reported_;  // the partitions with gauges
  std::unique_ptr<event::Timer> timer_;
  std::unique_ptr<event::WorkerThread> worker_;  // last: joined before reader_ goes
  bool in_flight_ = false;
};

}  // namespace tidemark::server
