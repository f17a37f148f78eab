#include "sidecar/kafka/watermarks.h"

#include <librdkafka/rdkafka.h>

namespace tidemark::kafka {

StatusOr<std::unique_ptr<WatermarkReader>> WatermarkReader::create(
    const std::string& bootstrap_servers, const ClientTls& tls) {
  TM_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                      makeConfig(bootstrap_servers, tls,
                                 {{"client.id", "tidemark-lag"},
                                  {"group.id", "tidemark-lag-unused"},  // never joined
                                  {"enable.auto.commit", "false"}}));
  char err[512];
  std::unique_ptr<WatermarkReader> r(new WatermarkReader());
  r->rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (r->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return unavailable(std::string("librdkafka: ") + err);
  }
  return r;
}

WatermarkReader::~WatermarkReader() {
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

std::map<TopicPartition, int64_t> WatermarkReader::highWatermarks(
    const std::set<TopicPartition>& partitions, std::chrono::milliseconds timeout) {
  std::map<TopicPartition, int64_t> out;
  for (const auto& [topic, partition] : partitions) {
    int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(rk_, topic.c_str(), partition, &low, &high,
                                         static_cast<int>(timeout.count())) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      out[{topic, partition}] = high;
    }
  }
  return out;
}

}  // namespace tidemark::kafka
