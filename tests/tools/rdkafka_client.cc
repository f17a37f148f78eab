// tidemark-rdkafka-client: a plain librdkafka (C API) producer and
// consumer-group member, the C++ entry of the real-client matrix
// (tests/integration/test_client_matrix.py). Which librdkafka it runs on is
// chosen by LD_LIBRARY_PATH (Debian's 2.0.2 or the modern 2.15.1).
//
//   tidemark-rdkafka-client produce --bootstrap B --topic T --count N [--prefix P]
//   tidemark-rdkafka-client consume --bootstrap B --topic T --group G [--count N]
//
// produce sends values P0..P(N-1) (key i) and exits 0 once all are acked.
// consume joins group G (earliest offset for a new group), prints each value
// on stdout, one per line, until N values or SIGTERM/SIGINT; then commits
// the offsets of what it printed, leaves the group and exits 0.
// Assignments go to stderr as "assigned: T [p], T [q]" / "revoked: ...".

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};

void onSignal(int) { g_stop = true; }

struct Args {
  std::string mode, bootstrap, topic, group, prefix = "v";
  std::optional<long> count;
};

bool parseArgs(int argc, char** argv, Args* args) {
  if (argc < 2) return false;
  args->mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--bootstrap")
      args->bootstrap = value;
    else if (flag == "--topic")
      args->topic = value;
    else if (flag == "--group")
      args->group = value;
    else if (flag == "--prefix")
      args->prefix = value;
    else if (flag == "--count")
      args->count = std::stol(value);
    else
      return false;
  }
  if ((argc - 2) % 2 != 0 || args->bootstrap.empty() || args->topic.empty()) return false;
  if (args->mode == "produce") return args->count.has_value();
  if (args->mode == "consume") return !args->group.empty();
  return false;
}

rd_kafka_conf_t* makeConf(const std::vector<std::pair<std::string, std::string>>& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "config %s=%s: %s\n", k.c_str(), v.c_str(), err);
      rd_kafka_conf_destroy(conf);
      return nullptr;
    }
  }
  return conf;
}

std::atomic<long> g_failed{0};

void onDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (g_failed++ < 3) std::fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(msg->err));
  }
}

int produce(const Args& args) {
  rd_kafka_conf_t* conf = makeConf({{"bootstrap.servers", args.bootstrap}, {"acks", "all"}});
  if (conf == nullptr) return 2;
  rd_kafka_conf_set_dr_msg_cb(conf, onDelivery);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "producer: %s\n", err);
    return 1;
  }
  for (long i = 0; i < *args.count; ++i) {
    std::string key = std::to_string(i), value = args.prefix + key;
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(args.topic.c_str()),
                                  RD_KAFKA_V_KEY(key.data(), key.size()),
                                  RD_KAFKA_V_VALUE(value.data(), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 100);
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
      rd_kafka_destroy(rk);
      return 1;
    }
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_resp_err_t flushed = rd_kafka_flush(rk, 60000);
  rd_kafka_destroy(rk);
  if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR || g_failed != 0) {
    std::fprintf(stderr, "produce failed: %s, %ld undelivered\n", rd_kafka_err2str(flushed),
                 g_failed.load());
    return 1;
  }
  std::fprintf(stderr, "produced %ld\n", *args.count);
  return 0;
}

std::string describe(const rd_kafka_topic_partition_list_t* parts) {
  std::string out;
  for (int i = 0; i < parts->cnt; ++i) {
    if (i > 0) out += ", ";
    out +=
        std::string(parts->elems[i].topic) + " [" + std::to_string(parts->elems[i].partition) + "]";
  }
  return out;
}

void onRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                 void*) {
  bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
  std::fprintf(stderr, "%s %s\n", assign ? "assigned:" : "revoked:", describe(parts).c_str());
  std::fflush(stderr);
  rd_kafka_assign(rk, assign ? parts : nullptr);
}

int consume(const Args& args) {
  // Offsets are stored only for messages printed (enable.auto.offset.store is
  // on: rd_kafka_consumer_poll stores each message it returns), and committed
  // once, explicitly, before leaving.
  rd_kafka_conf_t* conf = makeConf({{"bootstrap.servers", args.bootstrap},
                                    {"group.id", args.group},
                                    {"auto.offset.reset", "earliest"},
                                    {"enable.auto.commit", "false"},
                                    {"session.timeout.ms", "3000"},
                                    {"heartbeat.interval.ms", "500"}});
  if (conf == nullptr) return 2;
  rd_kafka_conf_set_rebalance_cb(conf, onRebalance);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "consumer: %s\n", err);
    return 1;
  }
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, args.topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "subscribe: %s\n", rd_kafka_err2str(e));
    rd_kafka_destroy(rk);
    return 1;
  }
  long seen = 0;
  while (!g_stop && (!args.count || seen < *args.count)) {
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk, 200);
    if (msg == nullptr) continue;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        std::fprintf(stderr, "error: %s\n", rd_kafka_message_errstr(msg));
    } else {
      std::fwrite(msg->payload, 1, msg->len, stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
      ++seen;
    }
    rd_kafka_message_destroy(msg);
  }
  int rc = 0;
  e = rd_kafka_commit(rk, nullptr, 0 /* synchronous */);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    std::fprintf(stderr, "commit failed: %s\n", rd_kafka_err2str(e));
    rc = 1;
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  std::fprintf(stderr, "consumed %ld\n", seen);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parseArgs(argc, argv, &args)) {
    std::fprintf(stderr,
                 "usage: tidemark-rdkafka-client produce|consume --bootstrap B --topic T "
                 "[--group G] [--count N] [--prefix P]\n");
    return 2;
  }
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  std::fprintf(stderr, "librdkafka %s\n", rd_kafka_version_str());
  return args.mode == "produce" ? produce(args) : consume(args);
}
