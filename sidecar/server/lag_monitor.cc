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

void LagMonitor::observed(const std::string& topic, int32_t partition, int64_t high_watermark) {
  fetched_[{topic, partition}] = {high_watermark, std::chrono::steady_clock::now()};
}

void LagMonitor::poll() {
  Offsets offsets;
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
  // Fresh watermarks from the application's fetches; the rest from the cluster.
  const auto now = std::chrono::steady_clock::now();
  std::map<kafka::TopicPartition, int64_t> fresh;
  Offsets from_fetch;
  Offsets from_cluster;
  for (const auto& [id, committed] : offsets) {
    auto seen = fetched_.find({id.topic, id.partition});
    if (seen != fetched_.end() && now - seen->second.at <= kFreshFor) {
      fresh[seen->first] = seen->second.high_watermark;
      from_fetch.emplace(id, committed);
    } else {
      from_cluster.emplace(id, committed);
    }
  }
  std::erase_if(fetched_, [&](const auto& e) { return now - e.second.at > 4 * kFreshFor; });
  publish(from_fetch, fresh, "fetch");
  if (from_cluster.empty()) return;
  if (reader_ == nullptr || in_flight_) {  // the cluster is slow: skip a round rather than queue
    publish(from_cluster, {}, "cluster");
    return;
  }
  std::set<kafka::TopicPartition> partitions;
  for (const auto& [id, committed] : from_cluster) partitions.insert({id.topic, id.partition});
  in_flight_ = true;
  worker_->submit<std::map<kafka::TopicPartition, int64_t>>(
      [this, partitions] {
        return reader_->highWatermarks(partitions, std::chrono::milliseconds(2000));
      },
      [this, from_cluster](std::map<kafka::TopicPartition, int64_t> high) {
        in_flight_ = false;
        // Only partitions still held: one may have moved while the cluster answered.
        Offsets held;
        for (const auto& [id, committed] : from_cluster) {
          if (owned_(id)) held.emplace(id, committed);
        }
        publish(held, high, "cluster");
      });
}

void LagMonitor::publish(const Offsets& offsets,
                         const std::map<kafka::TopicPartition, int64_t>& high, const char* source) {
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
        .counter("tidemark_partition_watermark_updates_total",
                 "High watermarks the lag gauges took, by source: the application's Fetch "
                 "answers, or the cluster asked for partitions not fetched lately.",
                 {{"source", source}})
        .inc();
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
}

}  // namespace tidemark::server
