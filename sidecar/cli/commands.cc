#include "sidecar/cli/commands.h"

#include <event2/event.h>
#include <google/protobuf/stubs/common.h>
#include <librdkafka/rdkafka.h>
#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "sidecar/base/log.h"
#include "sidecar/cli/args.h"
#include "sidecar/cli/run_sidecar.h"
#include "sidecar/kafka/embedded_cluster.h"

#ifndef TIDEMARK_VERSION
#define TIDEMARK_VERSION "0.0.0"
#endif

namespace tidemark::cli {
namespace {

constexpr const char* kServeHelp = R"(Usage: tidemark serve --config FILE [--set path=value ...]

Runs the sidecar: the Kafka proxy the application connects to, the local HTTP
API and the checkpoint coordinator, until SIGTERM or SIGINT.

  --config FILE       YAML config (see docs/configuration.md)
  --set path=value    override one field, e.g. --set checkpoint.interval=30s
                      (repeatable; applied after the file, in order)
)";

constexpr const char* kDevHelp =
    R"(Usage: tidemark dev [--brokers N] [--topic name:partitions ...] [--data-dir DIR]
                    [--set path=value ...]

Starts an embedded Kafka cluster (librdkafka's mock cluster, a real Kafka
protocol server on loopback) and the sidecar in front of it, creates the demo
topic, prints what to point a consumer at, and runs until Ctrl-C.

  --brokers N             brokers in the embedded cluster (default 3)
  --topic name:partitions topic to create (repeatable; default demo:6)
  --data-dir DIR          where the sidecar keeps its data
                          (default $XDG_STATE_HOME/tidemark/dev, else ~/.local/state/tidemark/dev)
  --set path=value        override a config field, as for serve
)";

constexpr const char* kConfigHelp = R"(Usage: tidemark config check FILE [--set path=value ...]

Validates a config file and prints the effective config (every field, with
defaults filled in). Exit code 0 if valid, 2 with one line naming the file,
field and problem if not.
)";

constexpr const char* kVersionHelp = R"(Usage: tidemark version

Prints Tidemark's version and the versions of the libraries it runs on.
)";

int usageError(const std::string& message, const char* help) {
  std::fprintf(stderr, "tidemark: %s\n\n%s", message.c_str(), help);
  return kExitUsage;
}

int configError(const Status& s) {
  std::fprintf(stderr, "tidemark: config error: %s\n", s.message().c_str());
  return kExitUsage;
}

StatusOr<std::vector<config::Override>> overridesFrom(const Args& args) {
  std::vector<config::Override> out;
  for (const std::string& s : args.all("set")) {
    TM_ASSIGN_OR_RETURN(config::Override o, config::parseOverride(s));
    out.push_back(std::move(o));
  }
  return out;
}

struct TopicSpec {
  std::string name;
  int partitions;
};

StatusOr<TopicSpec> parseTopicSpec(const std::string& text) {
  size_t colon = text.rfind(':');
  std::string name = text.substr(0, colon);
  int partitions = 1;
  if (colon != std::string::npos) {
    auto n = config::parseUint(text.substr(colon + 1));
    if (!n.isOk() || *n < 1 || *n > 10000) {
      return invalidArgument("--topic " + text + ": partitions must be 1..10000");
    }
    partitions = static_cast<int>(*n);
  }
  if (name.empty()) return invalidArgument("--topic " + text + ": expected name:partitions");
  return TopicSpec{name, partitions};
}

std::string defaultDevDataDir() {
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/tidemark/dev";
  }
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.local/state/tidemark/dev";
}

}  // namespace

void printUsage() {
  std::printf(R"(Usage: tidemark <command> [flags]

Tidemark gives Samza-style checkpoints (offsets + state, atomically) to Kafka
consumers through a local Kafka-protocol proxy.

Commands:
  serve          run the sidecar from a config file
  dev            run an embedded Kafka cluster with the sidecar in front of it
  config check   validate a config file and print the effective config
  checkpoints    list, show, diff, export and import checkpoints
  version        print version information

Run 'tidemark <command> --help' for a command's flags.
)");
}

int runServe(const std::vector<std::string>& argv) {
  auto args = parseArgs(argv, {{"config"}, {"set", true, true}});
  if (!args.isOk()) return usageError(args.status().message(), kServeHelp);
  if (args->has("help")) return std::printf("%s", kServeHelp), kExitOk;
  if (!args->positional.empty()) {
    return usageError("unexpected argument " + args->positional[0], kServeHelp);
  }
  if (!args->has("config")) return usageError("serve needs --config FILE", kServeHelp);
  auto overrides = overridesFrom(*args);
  if (!overrides.isOk()) return configError(overrides.status());
  auto config = config::loadFile(args->get("config"), *overrides);
  if (!config.isOk()) return configError(config.status());
  applyLogConfig(*config);
  return runSidecar(*config, [](server::Sidecar&) {});
}

int runDev(const std::vector<std::string>& argv) {
  auto args =
      parseArgs(argv, {{"brokers"}, {"topic", true, true}, {"data-dir"}, {"set", true, true}});
  if (!args.isOk()) return usageError(args.status().message(), kDevHelp);
  if (args->has("help")) return std::printf("%s", kDevHelp), kExitOk;
  if (!args->positional.empty())
    return usageError("unexpected argument " + args->positional[0], kDevHelp);
  auto brokers = config::parseUint(args->get("brokers", "3"));
  if (!brokers.isOk() || *brokers < 1 || *brokers > 64) {
    return usageError("--brokers must be 1..64", kDevHelp);
  }
  std::vector<TopicSpec> topics;
  for (const std::string& t : args->all("topic")) {
    auto spec = parseTopicSpec(t);
    if (!spec.isOk()) return usageError(spec.status().message(), kDevHelp);
    topics.push_back(*spec);
  }
  if (topics.empty()) topics.push_back({"demo", 6});
  const std::string data_dir = args->get("data-dir", defaultDevDataDir());
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    std::fprintf(stderr, "tidemark: cannot create --data-dir %s: %s\n", data_dir.c_str(),
                 ec.message().c_str());
    return kExitRuntime;
  }

  auto cluster = kafka::EmbeddedCluster::start(static_cast<int>(*brokers));
  if (!cluster.isOk()) {
    std::fprintf(stderr, "tidemark: %s\n", cluster.status().message().c_str());
    return kExitRuntime;
  }
  int replication = std::min<int>(3, static_cast<int>(*brokers));
  for (const TopicSpec& t : topics) {
    Status s = (*cluster)->createTopic(t.name, t.partitions, replication);
    if (!s.isOk()) {
      std::fprintf(stderr, "tidemark: %s\n", s.message().c_str());
      return kExitRuntime;
    }
  }

  auto overrides = overridesFrom(*args);
  if (!overrides.isOk()) return configError(overrides.status());
  // The embedded cluster and data dir come first so the user's --set can still win.
  std::vector<config::Override> all = {
      {"proxy.upstream.bootstrap_servers", (*cluster)->bootstrapServers()},
      {"store.path", data_dir + "/tidemark.db"},
      {"job.id", "dev"},
      // Ctrl-C should not wait long for a consumer the developer left running.
      {"shutdown.timeout", "5s"},
  };
  all.insert(all.end(), overrides->begin(), overrides->end());
  auto config = config::loadOverrides(all);
  if (!config.isOk()) return configError(config.status());
  applyLogConfig(*config);
  const auto& remote = config->remote();
  if (remote.mode() != config::v1::Remote::OFF && remote.kafka().bootstrap_servers().empty()) {
    // The embedded cluster implements no CreateTopics: the checkpoint topic
    // is made here, as an operator would, with its configured partitions.
    Status s = (*cluster)->createTopic(remote.kafka().topic(),
                                       static_cast<int>(remote.kafka().partitions()), replication);
    if (!s.isOk()) {
      std::fprintf(stderr, "tidemark: %s\n", s.message().c_str());
      return kExitRuntime;
    }
  }

  const kafka::EmbeddedCluster& c = **cluster;
  return runSidecar(*config, [&](server::Sidecar& sidecar) {
    std::string topic_list;
    for (const TopicSpec& t : topics) {
      topic_list += (topic_list.empty() ? "" : ", ") + t.name + " (" +
                    std::to_string(t.partitions) + " partitions)";
    }
    std::printf(
        "Tidemark dev is running: embedded Kafka with %d brokers (librdkafka %s mock)\n"
        "  Kafka     bootstrap.servers=%s   (through the sidecar; try: kcat -b %s -L)\n"
        "  Topics    %s\n"
        "  HTTP API  http://%s  (try: curl http://%s/healthz)\n"
        "  Data      %s\n"
        "Press Ctrl-C to stop.\n",
        c.brokerCount(), kafka::EmbeddedCluster::libraryVersion().c_str(),
        sidecar.proxyAddress().toString().c_str(), sidecar.proxyAddress().toString().c_str(),
        topic_list.c_str(), sidecar.httpAddress().toString().c_str(),
        sidecar.httpAddress().toString().c_str(), data_dir.c_str());
    std::fflush(stdout);
  });
}

int runConfig(const std::vector<std::string>& argv) {
  auto args = parseArgs(argv, {{"set", true, true}});
  if (!args.isOk()) return usageError(args.status().message(), kConfigHelp);
  if (args->has("help")) return std::printf("%s", kConfigHelp), kExitOk;
  if (args->positional.size() != 2 || args->positional[0] != "check") {
    return usageError("expected: config check FILE", kConfigHelp);
  }
  auto overrides = overridesFrom(*args);
  if (!overrides.isOk()) return configError(overrides.status());
  auto config = config::loadFile(args->positional[1], *overrides);
  if (!config.isOk()) return configError(config.status());
  std::printf("# %s is valid; effective config:\n%s", args->positional[1].c_str(),
              config::renderYaml(*config).c_str());
  return kExitOk;
}

int runVersion(const std::vector<std::string>& argv) {
  auto args = parseArgs(argv, {});
  if (!args.isOk()) return usageError(args.status().message(), kVersionHelp);
  if (args->has("help")) return std::printf("%s", kVersionHelp), kExitOk;
  std::printf("tidemark %s (librdkafka %s, libevent %s, SQLite %s, protobuf %s)\n",
              TIDEMARK_VERSION, rd_kafka_version_str(), event_get_version(), sqlite3_libversion(),
              google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION).c_str());
  return kExitOk;
}

}  // namespace tidemark::cli
