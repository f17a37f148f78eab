#include "sidecar/kafka/group_rewind.h"

#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <cstring>

namespace tidemark::kafka {
namespace {

bool meansActiveMembers(rd_kafka_resp_err_t e) {
  return e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID || e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
         e == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS;
}

Status outcome(const std::string& group, rd_kafka_resp_err_t e) {
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::ok();
  if (meansActiveMembers(e)) {
    return failedPrecondition("consumer group " + group + " has active members (the cluster " +
                              "refused a memberless commit: " + rd_kafka_err2name(e) + ")");
  }
  return unavailable("committing offsets of group " + group + ": " + rd_kafka_err2str(e));
}

}  // namespace

Status commitWhileIdle(const std::string& bootstrap_servers, const ClientTls& tls,
                       const std::string& group, const std::vector<GroupOffset>& offsets,
                       std::chrono::milliseconds timeout) {
  if (offsets.empty()) return Status::ok();
  TM_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                      makeConfig(bootstrap_servers, tls,
                                 {{"client.id", "tidemark-cli"},
                                  {"group.id", group},  // never joined: the commit is memberless
                                  {"enable.auto.commit", "false"},
                                  {"socket.timeout.ms", std::to_string(timeout.count())}}));
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return unavailable(std::string("librdkafka consumer: ") + err);
  }
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const GroupOffset& o : offsets) {
    auto* p = rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition);
    p->offset = o.offset;
    if (!o.metadata.empty()) {  // freed with the list
      p->metadata = std::malloc(o.metadata.size());
      std::memcpy(p->metadata, o.metadata.data(), o.metadata.size());
      p->metadata_size = o.metadata.size();
    }
  }
  rd_kafka_resp_err_t e = rd_kafka_commit(rk, list, /*async=*/0);
  for (int i = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && i < list->cnt; ++i) e = list->elems[i].err;
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return outcome(group, e);
}

}  // namespace tidemark::kafka
