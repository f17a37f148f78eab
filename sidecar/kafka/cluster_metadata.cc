#include "sidecar/kafka/cluster_metadata.h"

#include <librdkafka/rdkafka.h>

namespace tidemark::kafka {

StatusOr<std::vector<BrokerAddress>> listBrokers(const std::string& bootstrap_servers,
                                                 const ClientTls& tls,
                                                 std::chrono::milliseconds timeout) {
  TM_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                      makeConfig(bootstrap_servers, tls, {{"client.id", "tidemark-metadata"}}));
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return unavailable(std::string("librdkafka: ") + err);
  }
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e =
      rd_kafka_metadata(rk, /*all_topics=*/0, nullptr, &md, static_cast<int>(timeout.count()));
  std::vector<BrokerAddress> out;
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < md->broker_cnt; ++i) {
      out.push_back({md->brokers[i].id, md->brokers[i].host, md->brokers[i].port});
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_destroy(rk);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unavailable(std::string("cluster metadata: ") + rd_kafka_err2name(e));
  }
  return out;
}

}  // namespace tidemark::kafka
