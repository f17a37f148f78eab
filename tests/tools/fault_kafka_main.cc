// tidemark-fault-kafka: librdkafka's mock cluster as a process of its own, with
// the mock's fault injection that tidemark-embedded-kafka does not expose
// (injected request errors, round-trip time), for tests/reliability/.
// It talks to rdkafka_mock.h directly, so it needs nothing of the sidecar.
//
//   tidemark-fault-kafka [--brokers N] [--topic name:partitions ...]
//
// Prints one JSON line when ready:
//   {"bootstrap": "127.0.0.1:P1,...", "librdkafka": "2.0.2", "brokers": 3}
// then reads commands from stdin, one per line, answering "ok" or "error: ...":
//   topic NAME PARTITIONS [REPLICATION]   create a topic
//   down NODE_ID | up NODE_ID             take a broker down / bring it back
//   rtt NODE_ID MS                        delay every answer of a broker (-1: all brokers)
//   errors API_KEY ERROR COUNT            the next COUNT requests of API_KEY (any broker)
//                                         fail with ERROR (a Kafka error code; -195 =
//                                         transport: the broker drops the connection)
//   quit                                  stop (also on EOF)

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string result(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_NO_ERROR ? "ok" : std::string("error: ") + rd_kafka_err2str(err);
}

std::string handle(rd_kafka_mock_cluster_t* mock, int brokers, const std::string& line,
                   bool* quit) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd == "quit" || cmd.empty()) {
    *quit = cmd == "quit";
    return "ok";
  }
  if (cmd == "topic") {
    std::string name;
    int partitions = 0, replication = 0;
    in >> name >> partitions;
    if (!(in >> replication)) replication = brokers < 3 ? brokers : 3;
    if (name.empty() || partitions < 1) return "error: usage: topic NAME N [RF]";
    return result(rd_kafka_mock_topic_create(mock, name.c_str(), partitions, replication));
  }
  if (cmd == "down" || cmd == "up") {
    int id = -1;
    if (!(in >> id)) return "error: usage: down|up NODE_ID";
    return result(cmd == "down" ? rd_kafka_mock_broker_set_down(mock, id)
                                : rd_kafka_mock_broker_set_up(mock, id));
  }
  if (cmd == "rtt") {
    int id = 0, ms = 0;
    if (!(in >> id >> ms) || ms < 0) return "error: usage: rtt NODE_ID MS";
    return result(rd_kafka_mock_broker_set_rtt(mock, id, ms));
  }
  if (cmd == "errors") {
    int api = -1, code = 0, count = 0;
    if (!(in >> api >> code >> count) || api < 0 || count < 1)
      return "error: usage: errors API_KEY ERROR COUNT";
    std::vector<rd_kafka_resp_err_t> errs(count, static_cast<rd_kafka_resp_err_t>(code));
    rd_kafka_mock_push_request_errors_array(mock, static_cast<int16_t>(api), errs.size(),
                                            errs.data());
    return "ok";
  }
  return "error: unknown command " + cmd;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 3;
  std::vector<std::string> topics;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--brokers" && i + 1 < argc) {
      brokers = std::atoi(argv[++i]);
    } else if (a == "--topic" && i + 1 < argc) {
      topics.emplace_back(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: tidemark-fault-kafka [--brokers N] [--topic name:N ...]\n");
      return 2;
    }
  }
  if (brokers < 1 || brokers > 64) return 2;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    std::fprintf(stderr, "tidemark-fault-kafka: rd_kafka_new: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* mock = rd_kafka_mock_cluster_new(rk, brokers);
  if (mock == nullptr) {
    std::fprintf(stderr, "tidemark-fault-kafka: cannot start the mock cluster\n");
    return 1;
  }
  for (const std::string& spec : topics) {
    size_t colon = spec.rfind(':');
    bool quit = false;
    std::string answer = handle(mock, brokers,
                                "topic " + spec.substr(0, colon) + " " +
                                    (colon == std::string::npos ? "1" : spec.substr(colon + 1)),
                                &quit);
    if (answer != "ok") {
      std::fprintf(stderr, "tidemark-fault-kafka: %s\n", answer.c_str());
      return 1;
    }
  }
  std::printf("{\"bootstrap\": \"%s\", \"librdkafka\": \"%s\", \"brokers\": %d}\n",
              rd_kafka_mock_cluster_bootstraps(mock), rd_kafka_version_str(), brokers);
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    bool quit = false;
    std::string answer = handle(mock, brokers, line, &quit);
    if (quit) break;
    std::printf("%s\n", answer.c_str());
    std::fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(mock);
  rd_kafka_destroy(rk);
  return 0;
}
