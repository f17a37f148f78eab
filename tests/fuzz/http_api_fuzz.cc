// Fuzz target: the local HTTP API end to end in one process: a client's bytes
// through the server's connection (framing, bearer token, routing, body
// limits, pipelining, 100-continue) to the handlers (sidecar/checkpoint/
// http_api.cc: state in both scopes, offsets, commits, checkpoints; plus
// /healthz, /readyz and /metrics as the sidecar registers them), against a
// fresh in-memory Coordinator and StateBook for each input.
// Input layout:
//   byte 0: bit 0 = the server requires the bearer token "fuzz-token";
//           bits 1-2 = how the bytes are written: 0 all at once, 1 in two
//           writes, 2 in pieces of 8-71 bytes, 3 in two writes with the second
//           after every answer to the first; bit 3 = seal_on immediate;
//   byte 1: where the bytes are cut (modes 1 and 3) or the piece size (mode 2);
//   rest: what the client sends.
// Each input gets its own event loop, server (on 127.0.0.1, an ephemeral
// port), coordinator and store: nothing carries over between inputs. The
// loop is driven without blocking until the client has sent everything, the
// server owes no answer and nothing moved for a few turns (or it closed).
// Checks, besides no crash and no sanitizer report:
// - the answer stream is HTTP/1.1 responses, each with a known status;
// - no 500 (an internal error: the in-memory store never fails);
// - every error answer (4xx, 5xx) is the documented JSON error document
//   {"error": {"code": "...", "message": "..."}};
// - an answer owed is given within 5 s (no handler loses its Reply).

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sidecar/base/log.h"
#include "sidecar/checkpoint/coordinator.h"
#include "sidecar/checkpoint/http_api.h"
#include "sidecar/event/event_loop.h"
#include "sidecar/http/http_server.h"
#include "sidecar/http/token_file.h"
#include "sidecar/metrics/registry.h"
#include "store/checkpoint_store.h"

using namespace tidemark;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_api_fuzz: check failed: %s\n", what);
    std::abort();
  }
}

// The store contract (store/checkpoint_store.h) in memory, without the
// replication outbox the HTTP API never reaches.
class MemoryStore : public store::CheckpointStore {
 public:
  Status commit(const store::Manifest& m, const store::BlobSource& blobs) override {
    std::map<std::string, std::string> fresh;
    uint64_t written = 0, deduplicated = 0;
    for (const auto& ref : m.state()) {
      if (blobs_.count(ref.sha256()) || fresh.count(ref.sha256())) {
        deduplicated += ref.size();
        continue;
      }
      auto bytes = blobs(ref.sha256());
      if (!bytes) return internalError("no bytes for a blob the manifest references");
      if (store::sha256(*bytes) != ref.sha256() || bytes->size() != ref.size()) {
        return internalError("blob bytes do not match their reference");
      }
      fresh[ref.sha256()] = std::string(*bytes);
      written += bytes->size();
    }
    blobs_.merge(fresh);
    manifests_[m.id()] = m;
    last_ = {written, deduplicated};
    return Status::ok();
  }
  Status compact() override {
    while (manifests_.size() > 3) manifests_.erase(manifests_.begin());
    return Status::ok();
  }
  store::CommitStats lastCommit() const override { return last_; }
  StatusOr<std::optional<store::Manifest>> latest() override {
    if (manifests_.empty()) return std::optional<store::Manifest>();
    return std::optional<store::Manifest>(manifests_.rbegin()->second);
  }
  StatusOr<std::optional<store::Manifest>> get(uint64_t id) override {
    auto it = manifests_.find(id);
    if (it == manifests_.end()) return std::optional<store::Manifest>();
    return std::optional<store::Manifest>(it->second);
  }
  StatusOr<std::vector<store::CheckpointSummary>> summaries() override {
    std::vector<store::CheckpointSummary> out;
    for (auto it = manifests_.rbegin(); it != manifests_.rend(); ++it) {
      out.push_back(store::summarize(it->second));
    }
    return out;
  }
  StatusOr<std::string> readBlob(const std::string& h) override {
    auto it = blobs_.find(h);
    if (it == blobs_.end()) return notFound("no blob");
    return it->second;
  }
  StatusOr<bool> hasBlob(const std::string& h) override { return blobs_.count(h) > 0; }
  StatusOr<uint64_t> nextId(int64_t now_ms) override {
    const uint64_t after = manifests_.empty() ? 0 : manifests_.rbegin()->first + 1;
    return std::max<uint64_t>(after, static_cast<uint64_t>(now_ms) * 1000);
  }
  void setReplicating(bool) override {}
  StatusOr<std::optional<store::Manifest>> newestUnreplicated() override {
    return std::optional<store::Manifest>();
  }
  StatusOr<int64_t> outboxDepth() override { return int64_t{0}; }
  StatusOr<std::vector<std::string>> blobsNotOnRemote(const store::Manifest&) override {
    return std::vector<std::string>();
  }
  StatusOr<std::map<std::string, uint64_t>> markReplicated(
      const store::Manifest&, const std::map<std::string, uint64_t>&) override {
    return std::map<std::string, uint64_t>();
  }
  Status syncRemoteView(const std::map<std::string, uint64_t>&, uint64_t) override {
    return Status::ok();
  }

 private:
  std::map<uint64_t, store::Manifest> manifests_;
  std::map<std::string, std::string> blobs_;
  store::CommitStats last_;
};

std::filesystem::path tokenDir() {
  return std::filesystem::temp_directory_path() /
         ("tidemark-http-api-fuzz-" + std::to_string(::getpid()));
}

// The bearer token's file, written once per process and removed at exit.
const std::string& tokenPath() {
  static const std::string path = [] {
    std::filesystem::create_directories(tokenDir());
    const auto file = tokenDir() / "token";
    std::ofstream(file) << "fuzz-token\n";
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(tokenDir(), ignored);
    });
    return file.string();
  }();
  return path;
}

int connectTo(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(fd >= 0, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  check(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "connect");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Checks the answers in `stream`. A truncated last answer is fine (the server
// may close, the client may have stopped reading); what is there must parse.
void checkAnswers(std::string_view stream) {
  while (!stream.empty()) {
    if (stream.size() < 12) return;
    check(stream.substr(0, 9) == "HTTP/1.1 ", "answer starts with HTTP/1.1");
    int status = 0;
    for (size_t i = 9; i < 12; ++i) {
      check(stream[i] >= '0' && stream[i] <= '9', "three-digit status");
      status = status * 10 + (stream[i] - '0');
    }
    const size_t head_end = stream.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return;  // truncated
    const std::string_view head = stream.substr(0, head_end + 2);
    stream.remove_prefix(head_end + 4);
    check(status >= 100 && status <= 599, "status in range");
    check(status != 500, "no internal error");
    if (status == 100) continue;
    size_t length = 0;
    const size_t cl = head.find("\r\nContent-Length: ");
    if (status == 204 || status == 304) {
      check(cl == std::string_view::npos, "no Content-Length on 204/304");
      continue;
    }
    check(cl != std::string_view::npos, "Content-Length present");
    length = std::strtoull(std::string(head.substr(cl + 18, 20)).c_str(), nullptr, 10);
    // A HEAD answer carries the length but no body: the next answer follows
    // at once. Error bodies start with '{'; a non-error answer followed at
    // once by a status line is a HEAD answer's, or a stored value that looks
    // like one: the check stops there.
    const bool json_error = status >= 400;
    if (length == 0 || stream.empty()) continue;
    if (json_error && stream.front() != '{') continue;              // a HEAD answer's
    if (!json_error && stream.substr(0, 9) == "HTTP/1.1 ") return;  // HEAD's, or a body like it

    if (stream.size() < length) return;  // truncated
    const std::string_view body = stream.substr(0, length);
    stream.remove_prefix(length);
    if (json_error) {
      // Strict: request bytes quoted back in a message (GET
      // /v1/checkpoints/%FF) must still make valid UTF-8 JSON.
      auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
      check(!j.is_discarded(), "error answer is JSON");
      if (status == 503 && j.contains("status")) continue;  // /readyz: not ready
      check(j.is_object() && j.contains("error") && j["error"].is_object() &&
                j["error"].contains("code") && j["error"]["code"].is_string() &&
                j["error"].contains("message") && j["error"]["message"].is_string(),
            "error answer is {\"error\": {\"code\", \"message\"}}");
    }
  }
}

void pump(tidemark::event::EventLoop& loop) { event_base_loop(loop.base(), EVLOOP_NONBLOCK); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool kQuiet = [] {
    log::setSink([](std::string_view) {});
    return true;
  }();
  (void)kQuiet;
  if (size < 2) return 0;
  const bool with_token = (data[0] & 1) != 0;
  const int mode = (data[0] >> 1) & 3;
  const bool seal_immediately = (data[0] & 8) != 0;
  const size_t cut_seed = data[1];
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

  // The store worker (a thread) is what only POST /v1/checkpoints waits on;
  // a thread per input would cost most of the time, so it starts only when
  // that route can be reached (route segments match literally, never
  // percent-decoded). Such an input also gets a loop of its own, as the
  // worker's late results, posted to the loop, may name the coordinator
  // after it is gone; the others share one loop (what the server posts is
  // guarded).
  const bool worker = input.find("/v1/checkpoints") != std::string_view::npos;
  static std::unique_ptr<tidemark::event::EventLoop> shared;
  std::unique_ptr<tidemark::event::EventLoop> own;
  if (worker || !shared) {
    auto created = tidemark::event::EventLoop::create();
    check(created.isOk(), "event loop");
    (worker ? own : shared) = std::move(*created);
  }
  tidemark::event::EventLoop* const loop = worker ? own.get() : shared.get();
  metrics::Registry registry;

  checkpoint::CoordinatorOptions options;
  options.job_id = "fuzz";
  options.instance_id = "fuzz-0";
  options.interval = std::chrono::hours(24);
  options.max_messages = 0;
  options.retained = 3;
  options.seal_immediately = seal_immediately;
  options.timeout = std::chrono::seconds(10);
  auto coordinator =
      std::make_unique<checkpoint::Coordinator>(options, *loop, std::make_unique<MemoryStore>());
  check(coordinator->restore().isOk(), "restore");
  if (worker) coordinator->start();

  std::unique_ptr<http::TokenFile> token;
  auto server = std::make_unique<http::HttpServer>(*loop);
  server->setMetrics(registry);
  checkpoint::registerRoutes(*server, *coordinator,
                             {/*max_blob_bytes=*/2048, /*max_request_bytes=*/1024});
  server->route("GET", "/metrics", [&registry](const http::Request&) {
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = registry.render();
    return r;
  });
  server->route("GET", "/healthz", [](const http::Request&) {
    return http::Response::json(200, "{\"status\":\"ok\"}");
  });
  server->route("GET", "/readyz", [&coordinator](const http::Request&) {
    return coordinator->restored() ? http::Response::json(200, "{\"status\":\"ready\"}")
                                   : http::Response::json(503, "{\"status\":\"not_ready\"}");
  });
  if (with_token) {
    auto opened = http::TokenFile::open(*loop, tokenPath());
    check(opened.isOk(), "token file");
    token = std::move(*opened);
    server->requireToken(token.get());
  }
  check(server->start({"127.0.0.1", 0}, /*default_max_body_bytes=*/1024).isOk(), "listen");
  const int fd = connectTo(server->boundAddress().port);

  // Where the writes end: one or two cuts, or a piece size.
  size_t cut = input.size();
  size_t piece = input.size();
  if (mode == 1 || mode == 3) cut = input.size() * cut_seed / 255;
  if (mode == 2) piece = 8 + cut_seed % 64;

  std::string received;
  size_t sent = 0;
  bool sending = true;
  bool closed = false;
  int quiet = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!closed) {
    bool moved = false;
    // Mode 3 holds the second part until everything owed for the first is answered.
    const bool hold = mode == 3 && sent == cut && server->inFlight() > 0;
    if (sending && sent < input.size() && !hold) {
      size_t end = input.size();
      if ((mode == 1 || mode == 3) && sent < cut) end = cut;
      if (mode == 2) end = std::min(input.size(), sent + piece);
      const ssize_t n = ::send(fd, input.data() + sent, end - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        moved = true;
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        sending = false;  // the server closed: it answered with an error
      }
    }
    pump(*loop);
    char buf[16384];
    while (true) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        received.append(buf, static_cast<size_t>(n));
        moved = true;
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) closed = true;
      break;
    }
    const bool done_sending = !sending || sent == input.size();
    const bool owed = server->inFlight() > 0;
    quiet = (!moved && done_sending && !owed) ? quiet + 1 : 0;
    if (quiet >= 3) break;
    if (!moved && owed) {
      // An answer waits for the store worker: sleep in the loop until its
      // result is posted (or 1 ms passes) rather than spin.
      const timeval tick{0, 1000};
      event_base_loopexit(loop->base(), &tick);
      event_base_loop(loop->base(), EVLOOP_ONCE);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      check(server->inFlight() == 0, "an answer owed for 5 s (lost Reply?)");
      break;  // the server waits for bytes that will not come: fine
    }
  }
  // A reset rather than a FIN: neither end lingers in TIME_WAIT, so a long
  // run does not run out of loopback ports.
  const linger reset{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  ::close(fd);
  for (int i = 0; i < 3; ++i) pump(*loop);
  checkAnswers(received);

  server.reset();
  token.reset();
  coordinator.reset();  // joins the store worker; its late results die with its loop
  own.reset();
  return 0;
}
