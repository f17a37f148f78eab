// Writes a seed corpus for one fuzz target, in that target's input layout:
//   tidemark-make-seed-corpus [TARGET] OUT_DIR
// TARGET (default kafka_codec):
//   kafka_codec     a valid random body for every API x version x direction
//   kafka_request   every golden request frame (tests/protocol/kafka/golden),
//                   plus a random request frame for every API x version
//   kafka_response  every golden response frame, a random response for every
//                   API x version, and SyncGroup answers with consumer-protocol
//                   assignments and OffsetFetch answers the fake hooks know
//   config_loader   configs: the README's, each section, the rendered
//                   defaults, overrides, and some refusals
//   http_api        request sequences for every route, with and without the
//                   token, pipelined, chunked, HEAD, 100-continue, and errors
// The committed corpora (tests/fuzz/corpus/<target>/) started from these and
// grew (then were minimised) with scripts/fuzz.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "protocol/kafka/header.h"
#include "protocol/kafka/messages.h"
#include "protocol/kafka/testing.h"
#include "sidecar/config/loader.h"

using namespace tidemark;
using namespace tidemark::kafka;
namespace fs = std::filesystem;

namespace {

size_t written = 0;

void put(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
  ++written;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

size_t apiIndex(int16_t key) {
  for (size_t i = 0; i < std::size(kApis); ++i) {
    if (kApis[i].key == key) return i;
  }
  return SIZE_MAX;
}

int kafkaCodec(const std::string& out) {
  testing::Rng rng(20261126);
  for (size_t i = 0; i < std::size(kApis); ++i) {
    const ApiInfo& api = kApis[i];
    for (int16_t v = api.min_version; v <= api.max_version; ++v) {
      for (int request = 0; request < 2; ++request) {
        std::string body;
        if (!testing::randomBody(api.key, v, request == 1, rng, &body).isOk()) return 1;
        std::string input{static_cast<char>(i), static_cast<char>(v - api.min_version),
                          static_cast<char>(request)};
        input += body;
        put(out,
            "seed-" + std::string(api.name) + "-v" + std::to_string(v) +
                (request ? "-request" : "-response"),
            input);
      }
    }
  }
  return 0;
}

// Golden frames: NNNN-<Api>-v<version>-<request|response>.bin, deduplicated.
struct Golden {
  std::string name;  // client-gen-NNNN-Api-vN
  const ApiInfo* api;
  int16_t version;
  std::string frame;
};
std::vector<Golden> goldenFrames(bool requests) {
  static const std::regex kName(R"((\d+)-(\w+)-v(\d+)-(request|response)\.bin)");
  std::vector<Golden> out;
  std::set<std::string> seen;
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(TIDEMARK_GOLDEN_DIR)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& p : files) {
    std::smatch m;
    const std::string file = p.filename().string();
    if (!std::regex_match(file, m, kName)) continue;
    if ((m[4] == "request") != requests) continue;
    const ApiInfo* api = nullptr;
    for (const ApiInfo& a : kApis) {
      if (m[2] == a.name) api = &a;
    }
    const int16_t version = static_cast<int16_t>(std::stoi(m[3]));
    if (api == nullptr || version < api->min_version || version > api->max_version) continue;
    std::string frame = readFile(p);
    if (!seen.insert(frame).second) continue;
    out.push_back({p.parent_path().filename().string() + "-" + m[1].str() + "-" + m[2].str() +
                       "-v" + m[3].str(),
                   api, version, std::move(frame)});
  }
  return out;
}

int kafkaRequest(const std::string& out) {
  for (const Golden& g : goldenFrames(/*requests=*/true)) put(out, "golden-" + g.name, g.frame);
  testing::Rng rng(20261127);
  for (const ApiInfo& api : kApis) {
    for (int16_t v = api.min_version; v <= api.max_version; ++v) {
      std::string frame;
      Writer w(frame);
      encodeRequestHeader(w, {api.key, v, 7, std::string("seed"), {}});
      std::string body;
      if (!testing::randomBody(api.key, v, /*request=*/true, rng, &body).isOk()) return 1;
      put(out, "seed-" + std::string(api.name) + "-v" + std::to_string(v), frame + body);
    }
  }
  return 0;
}

std::string responseInput(const ApiInfo& api, int16_t version, int known, int32_t correlation,
                          const std::string& body) {
  std::string input{static_cast<char>(apiIndex(api.key)),
                    static_cast<char>(version - api.min_version), static_cast<char>(known)};
  Writer w(input);
  encodeResponseHeader(w, {correlation, {}}, responseHeaderVersion(api.key, version));
  return input + body;
}

// A consumer-protocol assignment (ConsumerProtocolAssignment v0-3).
std::string consumerAssignment(int16_t version,
                               const std::map<std::string, std::vector<int32_t>>& topics) {
  std::string out;
  Writer w(out);
  w.writeInt16(version);
  w.writeInt32(static_cast<int32_t>(topics.size()));
  for (const auto& [topic, partitions] : topics) {
    w.writeString(topic, /*compact=*/false);
    w.writeInt32(static_cast<int32_t>(partitions.size()));
    for (int32_t p : partitions) w.writeInt32(p);
  }
  w.writeNullableBytes(std::nullopt, /*compact=*/false);  // user data
  return out;
}

int kafkaResponse(const std::string& out) {
  int n = 0;
  for (const Golden& g : goldenFrames(/*requests=*/false)) {
    std::string input{static_cast<char>(apiIndex(g.api->key)),
                      static_cast<char>(g.version - g.api->min_version),
                      static_cast<char>(n++ % 5)};
    put(out, "golden-" + g.name, input + g.frame);
  }
  testing::Rng rng(20261128);
  for (const ApiInfo& api : kApis) {
    for (int16_t v = api.min_version; v <= api.max_version; ++v) {
      std::string body;
      if (!testing::randomBody(api.key, v, /*request=*/false, rng, &body).isOk()) return 1;
      put(out, "seed-" + std::string(api.name) + "-v" + std::to_string(v),
          responseInput(api, v, v % 5, 9, body));
    }
  }
  const ApiInfo& sync = *findApi(14);
  for (int16_t v = sync.min_version; v <= sync.max_version; ++v) {
    SyncGroupResponse r;
    r.protocol_type = "consumer";
    r.protocol_name = "range";
    r.assignment = consumerAssignment(v % 4, {{"orders", {0, 2, 5}}, {"payments", {1}}});
    put(out, "sync-assignment-v" + std::to_string(v),
        responseInput(sync, v, 0, 3, *r.serialize(v)));
    r.assignment.clear();
    put(out, "sync-empty-v" + std::to_string(v), responseInput(sync, v, 0, 3, *r.serialize(v)));
  }
  const ApiInfo& fetch = *findApi(9);
  for (int16_t v = fetch.min_version; v <= fetch.max_version; ++v) {
    OffsetFetchResponse r;
    auto fill = [](auto& topic) {
      topic.name = "orders";
      for (int32_t p = 0; p < 6; ++p) {
        auto& part = topic.partitions.emplace_back();
        part.partition_index = p;
        part.committed_offset = 100 + p;
        part.error_code = p == 5 ? 3 : 0;
      }
    };
    if (v < 8) {
      fill(r.topics.emplace_back());
    } else {
      auto& g = r.groups.emplace_back();
      g.group_id = "fuzz-group";
      fill(g.topics.emplace_back());
    }
    put(out, "offset-fetch-v" + std::to_string(v), responseInput(fetch, v, 2, 5, *r.serialize(v)));
  }
  return 0;
}

// The loader's input layout: YAML, then NUL-separated `--set` arguments.
std::string withOverrides(const std::string& yaml, const std::vector<std::string>& sets) {
  std::string out = yaml;
  for (const std::string& s : sets) out += std::string(1, '\0') + s;
  return out;
}

int configLoader(const std::string& out) {
  const std::map<std::string, std::string> seeds = {
      {"readme", R"(job: {id: wordcount}
proxy:
  listen: 127.0.0.1:19092        # bootstrap listener the application connects to
  advertised_host: 127.0.0.1      # host written into rewritten Metadata/FindCoordinator
  broker_port_base: 19100         # upstream broker with node id N is served on base+N
  upstream: {bootstrap_servers: "kafka-0:9092,kafka-1:9092"}
http: {listen: 127.0.0.1:8770}
checkpoint: {interval: 60s, max_messages: 100000}
store: {path: /var/lib/tidemark/tidemark.db}
remote: {kafka: {topic: __tidemark_checkpoints}}
log: {level: info}
)"},
      {"minimal", "proxy: {upstream: {bootstrap_servers: k:9092}}\n"},
      {"empty", ""},
      {"null", "~\n"},
      {"tls", R"(proxy:
  upstream:
    bootstrap_servers: "[::1]:9093,broker.example.com:9093"
    tls: {enabled: true, ca_file: /etc/ca.pem, cert_file: /etc/c.pem, key_file: /etc/k.pem,
          server_name: broker.example.com, verify: false}
  max_frame_bytes: 100MiB
)"},
      {"http-remote", R"(proxy: {upstream: {bootstrap_servers: k:9092}}
http: {listen: "0.0.0.0:8770", token_file: /run/secrets/token, max_blob_bytes: 64MiB,
       max_request_bytes: 1MiB}
)"},
      {"http-insecure",
       "proxy: {upstream: {bootstrap_servers: k:9092}}\n"
       "http: {listen: \"[::]:0\", allow_insecure_remote: true}\n"},
      {"checkpoint", R"(proxy: {upstream: {bootstrap_servers: k:9092}}
checkpoint:
  interval: 1.5s
  max_messages: 0
  min_pause: 250ms
  retained: 3
  tolerable_failures: 0
  timeout: 1h
  app_callback: "http://127.0.0.1:9000/checkpoint?x=1"
shutdown: {timeout: 100ms}
)"},
      {"offsets-state", R"(proxy: {upstream: {bootstrap_servers: k:9092}}
offsets: {commit_mode: sync}
remote: {mode: 'off'}
state: {seal_on: immediate}
job: {id: job-1, instance_id: pod-0}
)"},
      {"remote", R"(proxy: {upstream: {bootstrap_servers: k:9092}}
remote:
  mode: sync
  kafka: {topic: ckpt.topic-1, bootstrap_servers: "a:1,b:2", partitions: 3,
          replication_factor: 1, chunk_bytes: 512KiB, timeout: 2m}
)"},
      {"log", "proxy: {upstream: {bootstrap_servers: k:9092}}\nlog: {level: debug}\n"},
      {"bad-enum", "proxy: {upstream: {bootstrap_servers: k:9092}}\nlog: {level: loud}\n"},
      {"bad-unknown-field", "proxy: {upstream: {bootstrap_servers: k:9092}, nope: 1}\n"},
      {"bad-duration",
       "proxy: {upstream: {bootstrap_servers: k:9092}}\ncheckpoint: {interval: -5s}\n"},
      {"bad-type", "proxy: [1, 2]\n"},
      {"bad-yaml", "proxy: {upstream: {bootstrap_servers: k:9092}\n  - x: ]\n"},
      {"bad-listen-same",
       "proxy: {listen: 127.0.0.1:8770, upstream: {bootstrap_servers: k:9092}}\n"},
      {"anchors", "base: &b {bootstrap_servers: k:9092}\nproxy: {upstream: *b}\n"},
      {"multi-doc", "proxy: {upstream: {bootstrap_servers: k:9092}}\n---\nlog: {level: warn}\n"},
      {"overrides", withOverrides("job: {id: x}", {"proxy.upstream.bootstrap_servers=k:9092",
                                                   "checkpoint.interval=30s", "log.level=error"})},
      {"overrides-only",
       withOverrides("", {"proxy.upstream.bootstrap_servers=[::1]:1",
                          "remote.kafka={topic: t, partitions: 2}", "http.listen="})},
      {"override-bad", withOverrides("proxy: {upstream: {bootstrap_servers: k:9092}}\n",
                                     {"proxy.upstream=1", "nope", "=x", "checkpoint.retained=0"})},
  };
  for (const auto& [name, yaml] : seeds) put(out, "seed-" + name, yaml);
  config::Config every = config::defaults();
  every.mutable_proxy()->mutable_upstream()->set_bootstrap_servers("kafka-0:9092");
  put(out, "seed-rendered-defaults", config::renderYaml(every));
  return 0;
}

// One request: line, headers, Content-Length when there is a body.
std::string req(const std::string& line, const std::string& body = "",
                const std::string& headers = "") {
  std::string out = line + " HTTP/1.1\r\n" + headers;
  if (!body.empty()) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return out + "\r\n" + body;
}

int httpApi(const std::string& out) {
  const std::string auth = "Authorization: Bearer fuzz-token\r\n";
  struct Seed {
    const char* name;
    uint8_t flags;
    uint8_t cut;
    std::string bytes;
  };
  const std::string put_counts =
      req("PUT /v1/state/counts", "{\"the\": 1234}", "Content-Type: application/json\r\n");
  const std::string offsets_body =
      "[{\"group\":\"wc\",\"topic\":\"demo\",\"partition\":0,\"offset\":42}]";
  const std::string post_offsets = req("POST /v1/offsets", offsets_body);
  const std::string commit_body =
      "{\"offsets\":[{\"group\":\"wc\",\"topic\":\"demo\",\"partition\":1,\"offset\":7,"
      "\"leader_epoch\":3,\"metadata\":\"m\"}],\"state\":{\"put\":{\"a/b\":\"aGVsbG8=\"},"
      "\"delete\":[\"counts\"]}}";
  const std::string post_commit = req("POST /v1/commit", commit_body);
  const std::string scoped = "/v1/groups/wc/topics/demo/partitions/3/state";
  const std::vector<Seed> seeds = {
      {"healthz", 0, 0, "GET /healthz HTTP/1.1\r\n\r\n"},
      {"readyz-head", 0, 0, "HEAD /readyz HTTP/1.0\r\n\r\n"},
      {"metrics", 0, 0, "GET /healthz HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n"},
      {"put-get", 0, 0, put_counts + "GET /v1/state/counts?view=staged HTTP/1.1\r\n\r\n"},
      {"put-seal-get", 0, 0,
       put_counts + post_offsets + "GET /v1/state/counts HTTP/1.1\r\n\r\n" +
           "GET /v1/state?prefix=c&view=sealed HTTP/1.1\r\n\r\n"},
      {"checkpoint", 0, 0,
       put_counts + post_offsets + "POST /v1/checkpoints HTTP/1.1\r\n\r\n" +
           "GET /v1/checkpoints HTTP/1.1\r\n\r\n"},
      {"checkpoint-detail", 6, 200,
       post_commit + "POST /v1/checkpoints HTTP/1.1\r\n\r\n" +
           "GET /v1/checkpoints/1 HTTP/1.1\r\n\r\nGET /v1/checkpoints HTTP/1.1\r\n\r\n"},
      {"commit", 0, 0, post_commit + "GET /v1/state/a/b HTTP/1.1\r\n\r\n"},
      {"delete-if-match", 0, 0,
       put_counts + "DELETE /v1/state/counts HTTP/1.1\r\nIf-Match: \"nope\"\r\n\r\n" +
           "DELETE /v1/state/counts HTTP/1.1\r\nIf-Match: *\r\n\r\n"},
      {"scoped", 0, 0,
       "PUT " + scoped + "/k%2Fx HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc" + "GET " + scoped +
           "/k%2Fx HTTP/1.1\r\n\r\nGET " + scoped + " HTTP/1.1\r\n\r\nDELETE " + scoped +
           "/k%2Fx HTTP/1.1\r\n\r\n"},
      {"scoped-bad", 0, 0,
       "GET /v1/groups/wc/topics/bad..topic/partitions/99999999999/state/k HTTP/1.1\r\n\r\n"},
      {"token", 1, 0, "GET /v1/state HTTP/1.1\r\n" + auth + "\r\nGET /healthz HTTP/1.1\r\n\r\n"},
      {"token-missing", 1, 0, "GET /v1/checkpoints HTTP/1.1\r\n\r\n"},
      {"token-wrong", 1, 0, "GET /v1/state HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n"},
      {"token-put", 1, 0,
       "PUT /v1/state/x HTTP/1.1\r\n" + auth + "Content-Length: 2\r\n\r\nhi" +
           "GET /readyz?x=1 HTTP/1.1\r\n\r\n"},
      {"chunked", 4, 0,
       "PUT /v1/state/big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
       "GET /v1/state/big HTTP/1.1\r\n\r\n"},
      {"expect-continue", 6, 100,
       "PUT /v1/state/e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody"},
      {"too-large", 0, 0,
       "PUT /v1/state/x HTTP/1.1\r\nContent-Length: 99999\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n"},
      {"not-found-method", 0, 0,
       "GET /nope HTTP/1.1\r\n\r\nPATCH /v1/state/x HTTP/1.1\r\n\r\nBREW /healthz "
       "HTTP/1.1\r\n\r\n"},
      {"bad-keys", 0, 0,
       "GET /v1/state/..%2Fetc HTTP/1.1\r\n\r\nGET /v1/state/a%00b HTTP/1.1\r\n\r\n"
       "GET /v1/state/%zz HTTP/1.1\r\n\r\nGET /v1/state?prefix=%G0 HTTP/1.1\r\n\r\n"
       "PUT /v1/state/a//b HTTP/1.1\r\nContent-Length: 0\r\n\r\n"},
      {"bad-json", 0, 0,
       "POST /v1/offsets HTTP/1.1\r\nContent-Length: 5\r\n\r\n[{}]x"
       "POST /v1/commit HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"},
      {"bad-offsets", 0, 0,
       req("POST /v1/offsets",
           "[{\"group\":\"\",\"topic\":\"demo\",\"partition\":-1,\"offset\":\"x\"}]") +
           req("POST /v1/offsets",
               "[{\"group\":\"g\",\"topic\":\"t\",\"partition\":1,"
               "\"offset\":5,\"leader_epoch\":\"no\"}]")},
      {"view-bad", 0, 0, "GET /v1/state?view=other HTTP/1.1\r\n\r\n"},
      {"seal-immediately", 8, 0, put_counts + "GET /v1/state/counts HTTP/1.1\r\n\r\n"},
      {"keep-alive-close", 0, 0,
       "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
       "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n"},
      {"framing-errors", 0, 0, "GET /healthz HTTP/2.0\r\n\r\n"},
      {"smuggling", 0, 0,
       "POST /v1/offsets HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n"},
      {"split", 4, 9, put_counts + post_offsets + "POST /v1/checkpoints HTTP/1.1\r\n\r\n"},
      {"two-parts", 2, 128, put_counts + post_commit + "POST /v1/checkpoints HTTP/1.1\r\n\r\n"},
  };
  for (const Seed& s : seeds) {
    put(out, std::string("seed-") + s.name,
        std::string{static_cast<char>(s.flags), static_cast<char>(s.cut)} + s.bytes);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: tidemark-make-seed-corpus [TARGET] OUT_DIR\n");
    return 2;
  }
  const std::string target = argc == 3 ? argv[1] : "kafka_codec";
  const std::string out = argv[argc - 1];
  fs::create_directories(out);
  int rc = 2;
  if (target == "kafka_codec") rc = kafkaCodec(out);
  if (target == "kafka_request") rc = kafkaRequest(out);
  if (target == "kafka_response") rc = kafkaResponse(out);
  if (target == "config_loader") rc = configLoader(out);
  if (target == "http_api") rc = httpApi(out);
  if (rc == 2) std::fprintf(stderr, "unknown target %s\n", target.c_str());
  if (rc == 0) std::printf("wrote %zu seeds for %s\n", written, target.c_str());
  return rc;
}
