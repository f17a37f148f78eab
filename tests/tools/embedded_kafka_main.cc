// tidemark-embedded-kafka: the embedded Kafka cluster as a process of its own,
// for integration tests. Which protocol generation it speaks is chosen by the
// librdkafka it loads (LD_LIBRARY_PATH), independent of the sidecar's.
//
//   tidemark-embedded-kafka [--brokers N] [--topic name:partitions ...]
//
// Prints one JSON line when ready:
//   {"bootstrap": "127.0.0.1:P1,...", "librdkafka": "2.0.2", "brokers": 3}
// then reads commands from stdin, one per line, answering "ok" or "error: ...":
//   topic NAME PARTITIONS [REPLICATION]   create a topic
//   down NODE_ID | up NODE_ID             take a broker down / bring it back
//   quit                                  stop (also on EOF)

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

#include "sidecar/base/log.h"
#include "sidecar/cli/args.h"
#include "sidecar/config/scalars.h"
#include "sidecar/kafka/embedded_cluster.h"

using tidemark::Status;
using tidemark::kafka::EmbeddedCluster;

namespace {

Status handle(EmbeddedCluster& cluster, const std::string& line, bool* quit) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd == "quit" || cmd.empty()) {
    *quit = cmd == "quit";
    return Status::ok();
  }
  if (cmd == "topic") {
    std::string name;
    int partitions = 0, replication = 0;
    in >> name >> partitions;
    if (!(in >> replication)) replication = std::min(3, cluster.brokerCount());
    if (name.empty() || partitions < 1)
      return tidemark::invalidArgument("usage: topic NAME N [RF]");
    return cluster.createTopic(name, partitions, replication);
  }
  if (cmd == "down" || cmd == "up") {
    int id = -1;
    if (!(in >> id)) return tidemark::invalidArgument("usage: down|up NODE_ID");
    return cmd == "down" ? cluster.setBrokerDown(id) : cluster.setBrokerUp(id);
  }
  return tidemark::invalidArgument("unknown command " + cmd);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> raw(argv + 1, argv + argc);
  auto args = tidemark::cli::parseArgs(raw, {{"brokers"}, {"topic", true, true}});
  if (!args.isOk()) {
    std::fprintf(stderr, "tidemark-embedded-kafka: %s\n", args.status().message().c_str());
    return 2;
  }
  tidemark::log::setLevel(tidemark::log::Level::kWarn);
  auto brokers = tidemark::config::parseUint(args->get("brokers", "3"));
  if (!brokers.isOk() || *brokers < 1) return 2;
  auto cluster = EmbeddedCluster::start(static_cast<int>(*brokers));
  if (!cluster.isOk()) {
    std::fprintf(stderr, "tidemark-embedded-kafka: %s\n", cluster.status().message().c_str());
    return 1;
  }
  for (const std::string& spec : args->all("topic")) {
    size_t colon = spec.rfind(':');
    bool quit = false;
    Status s = handle(**cluster,
                      "topic " + spec.substr(0, colon) + " " +
                          (colon == std::string::npos ? "1" : spec.substr(colon + 1)),
                      &quit);
    if (!s.isOk()) {
      std::fprintf(stderr, "tidemark-embedded-kafka: %s\n", s.message().c_str());
      return 1;
    }
  }
  std::printf("{\"bootstrap\": \"%s\", \"librdkafka\": \"%s\", \"brokers\": %d}\n",
              (*cluster)->bootstrapServers().c_str(), EmbeddedCluster::libraryVersion().c_str(),
              (*cluster)->brokerCount());
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    bool quit = false;
    Status s = handle(**cluster, line, &quit);
    if (quit) break;
    std::printf("%s\n", s.isOk() ? "ok" : ("error: " + s.message()).c_str());
    std::fflush(stdout);
  }
  return 0;
}
