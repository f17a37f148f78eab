#include "sidecar/server/lag_monitor.h"

#include <algorithm>

namespace tidemark::server {

LagMonitor::LagMonitor(event::EventLoop& loop, checkpoint::Coordinator& coordinator,
                       metrics::Registry& registry, std::unique_ptr<kafka::WatermarkReader> reader,
                       std::function<bool(const checkpoint::PartitionId&)> owned)
    : loop_(loop),
      coordinator_(coordinator),
      registry_(registry),
      reader_(std::move(reader)),
      owned_(std::move(owned)) {}

LagMonitor::~LagMonitor() { worker_.reset(); }

void LagMonitor::start() {
  worker_ = std::make_unique<event::WorkerThread>(loop_);
  timer_ = loop_.createTimer([this] {
    poll();
    timer_->arm(kPeriod);
  });
  timer_->arm(std::chrono::milliseconds(500));  // a first look soon after start
}

void LagMonitor::poll() {
  if (in_flight_) return;  // the cluster is slow: skip a round rather than queue
  std::map<checkpoint::PartitionId, checkpoint::CommittedOffset> offsets;  // a copy for the worker
  for (const auto& [id, committed] : coordinator_.book().sealed().offsets) {
    if (owned_(id)) offsets.emplace(id, committed);
  }
  for (auto it = reported_.begin(); it != reported_.end();) {
    if (offsets.count(*it)) {
      ++it;
      continue;
    }
    const std::string partition = std::to_string(it->partition);
    registry_.remove("tidemark_partition_committed_offset",
                     {{"group", it->group}, {"topic", it->topic}, {"partition", partition}});
    registry_.remove("tidemark_partition_lag",
                     {{"group", it->group}, {"topic", it->topic}, {"partition", partition}});
    it = reported_.erase(it);
  }
  if (offsets.empty()) return;
  std::set<kafka::TopicPartition> partitions;
  for (const auto& [id, committed] : offsets) partitions.insert({id.topic, id.partition});
  in_flight_ = true;
  worker_->submit<std::map<kafka::TopicPartition, int64_t>>(
      [this, partitions] {
        return reader_->highWatermarks(partitions, std::chrono::milliseconds(2000));
      },
      [this, offsets](std::map<kafka::TopicPartition, int64_t> high) {
        in_flight_ = false;
        for (const auto& [id, committed] : offsets) {
          reported_.insert(id);
          const std::string partition = std::to_string(id.partition);
          registry_
              .gauge("tidemark_partition_committed_offset",
                     "The next offset to read that the application committed, per partition.",
                     {{"group", id.group}, {"topic", id.topic}, {"partition", partition}})
              .set(static_cast<double>(committed.offset));
          auto h = high.find({id.topic, id.partition});
          if (h == high.end()) continue;
          registry_
              .gauge("tidemark_partition_high_watermark",
                     "The partition's high watermark (the offset after its last message).",
                     {{"topic", id.topic}, {"partition", partition}})
              .set(static_cast<double>(h->second));
          registry_
              .gauge("tidemark_partition_lag",
                     "Messages the application has yet to process: high watermark minus the "
                     "committed offset.",
                     {{"group", id.group}, {"topic", id.topic}, {"partition", partition}})
              .set(static_cast<double>(std::max<int64_t>(0, h->second - committed.offset)));
        }
      });
}

}  // namespace tidemark::server
