#include "sidecar/kafka/embedded_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "sidecar/base/log.h"

namespace tidemark::kafka {

struct EmbeddedCluster::Handles {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* mock = nullptr;
  ~Handles() {
    if (mock != nullptr) rd_kafka_mock_cluster_destroy(mock);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

namespace {

void logFromLibrdkafka(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  // syslog levels: 0-3 errors, 4 warning, 5-6 info, 7 debug.
  if (level <= 3) {
    TM_LOG(Error, "embedded-kafka", buf).kv("facility", fac);
  } else if (level == 4) {
    TM_LOG(Warn, "embedded-kafka", buf).kv("facility", fac);
  } else {
    TM_LOG(Debug, "embedded-kafka", buf).kv("facility", fac);
  }
}

Status mockError(const char* what, rd_kafka_resp_err_t err) {
  return unavailable(std::string("embedded Kafka: ") + what + ": " + rd_kafka_err2str(err));
}

}  // namespace

EmbeddedCluster::EmbeddedCluster(std::unique_ptr<Handles> h, int brokers)
    : handles_(std::move(h)), brokers_(brokers) {}

EmbeddedCluster::~EmbeddedCluster() = default;

StatusOr<std::unique_ptr<EmbeddedCluster>> EmbeddedCluster::start(int brokers) {
  if (brokers < 1 || brokers > 64) return invalidArgument("brokers must be 1..64");
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, &logFromLibrdkafka);
  auto handles = std::make_unique<Handles>();
  // The mock needs a client handle to live in; a producer that never produces.
  handles->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (handles->rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return internalError(std::string("embedded Kafka: rd_kafka_new: ") + err);
  }
  handles->mock = rd_kafka_mock_cluster_new(handles->rk, brokers);
  if (handles->mock == nullptr) return internalError("embedded Kafka: cannot start mock cluster");
  return std::unique_ptr<EmbeddedCluster>(new EmbeddedCluster(std::move(handles), brokers));
}

std::string EmbeddedCluster::bootstrapServers() const {
  return rd_kafka_mock_cluster_bootstraps(handles_->mock);
}

Status EmbeddedCluster::createTopic(const std::string& name, int partitions,
                                    int replication_factor) {
  rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(handles_->mock, name.c_str(), partitions, replication_factor);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return mockError("create topic", err);
  return Status::ok();
}

Status EmbeddedCluster::setBrokerDown(int32_t node_id) {
  rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_down(handles_->mock, node_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return mockError("broker down", err);
  return Status::ok();
}

Status EmbeddedCluster::setBrokerUp(int32_t node_id) {
  rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_up(handles_->mock, node_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return mockError("broker up", err);
  return Status::ok();
}

std::string EmbeddedCluster::libraryVersion() { return rd_kafka_version_str(); }

}  // namespace tidemark::kafka
