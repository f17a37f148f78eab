#include "sidecar/server/sidecar.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "sidecar/base/log.h"
#include "sidecar/checkpoint/http_api.h"
#include "sidecar/config/duration.h"
#include "sidecar/kafka/cluster_metadata.h"
#include "sidecar/kafka/kafka_remote_backend.h"
#include "sidecar/server/remote_config.h"
#include "store/sqlite.h"
#include "store/sqlite_checkpoint_store.h"

namespace tidemark::server {
namespace {

// A store that fails its checks is never served (docs/store-format.md). The
// sidecar does not fall back to the remote by itself: the damage may be the
// disk's, and the remote may hold an older checkpoint. Say what to do.
Status storeError(const std::string& path, const Status& s) {
  // The store's errors never name its file: the config key and path go first.
  if (s.code() != StatusCode::kDataLoss) return s.withPrefix("store.path " + path);
  return dataLoss("store.path " + path + " is damaged and is never served (" + s.message() +
                  "): move it away, and the next start restores the newest checkpoint from the "
                  "remote, or starts empty without one");
}

}  // namespace

Sidecar::Sidecar(config::Config config, event::EventLoop& loop)
    : config_(std::move(config)), loop_(loop), http_(loop), proxy_(config_, loop) {}

Sidecar::~Sidecar() = default;

Status Sidecar::start() {
  const std::string& path = config_.store().path();
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  auto store = store::SqliteCheckpointStore::open(path, config_.checkpoint().retained());
  if (!store.isOk()) return storeError(path, store.status());
  if (int from = (*store)->migratedFrom(); from != 0) {
    TM_LOG(Info, "store", "store format upgraded")
        .kv("path", path)
        .kv("from", from)
        .kv("to", store::SqliteCheckpointStore::kFormatVersion);
  }
  const auto& cp = config_.checkpoint();
  const auto remote_mode = config_.remote().mode();
  if (remote_mode != config::v1::Remote::OFF) {
    const auto& rk = config_.remote().kafka();
    kafka::KafkaRemoteOptions options = remoteOptions(config_);
    TM_ASSIGN_OR_RETURN(auto backend, kafka::KafkaRemoteBackend::create(std::move(options)));
    replicator_ = std::make_unique<checkpoint::Replicator>(loop_, std::move(backend), instanceId());
    replicator_->setMetrics(metrics_);
    (*store)->setReplicating(true);
    TM_LOG(Info, "remote", "reading the remote checkpoints")
        .kv("topic", rk.topic())
        .kv("instance", instanceId())
        .kv("mode", remote_mode == config::v1::Remote::SYNC ? "sync" : "async");
    TM_RETURN_IF_ERROR(replicator_->restoreInto(**store).withPrefix("remote"));
  }
  checkpoint::CoordinatorOptions options{
      .job_id = config_.job().id(),
      .instance_id = instanceId(),
      .interval = config::toMillis(cp.interval()),
      .min_pause = config::toMillis(cp.min_pause()),
      .max_messages = cp.max_messages(),
      .retained = cp.retained(),
      .tolerable_failures = cp.tolerable_failures(),
      .seal_immediately = config_.state().seal_on() == config::v1::State::IMMEDIATE,
      .timeout = config::toMillis(cp.timeout()),
      .cache_bytes = config_.state().cache_bytes()};
  coordinator_ =
      std::make_unique<checkpoint::Coordinator>(options, loop_, std::move(store).value());
  if (!cp.app_callback().empty()) {
    TM_ASSIGN_OR_RETURN(config::HttpUrl url, config::parseHttpUrl(cp.app_callback()));
    app_callback_ = std::make_unique<checkpoint::AppCallback>(
        loop_, *coordinator_, std::move(url), config_.job().id(), config::toMillis(cp.timeout()),
        config_.http().max_blob_bytes());
    coordinator_->setPrepareStep(
        [this](const std::string& trigger, std::function<void(Status)> ready) {
          app_callback_->prepare(trigger, std::move(ready));
        });
  }
  mirrorMarkedOffsets();
  coordinator_->setMetrics(metrics_);
  http_.setMetrics(metrics_);
  proxy_.setMetrics(metrics_);
  metrics_.gaugeFn("tidemark_proxy_connections", "Application connections open through the proxy.",
                   [this] { return static_cast<double>(proxy_.openSessions()); });
  metrics_.gaugeFn("tidemark_store_memory_bytes",
                   "Heap bytes SQLite holds, its page caches included (bounded by their size).",
                   [] { return static_cast<double>(store::memoryInUse()); });
  if (replicator_) {
    coordinator_->onDurable([this](uint64_t) { replicator_->kick(); });
    if (remote_mode == config::v1::Remote::SYNC) {
      coordinator_->setReplicationStep([this](uint64_t id, std::function<void(Status)> done) {
        replicator_->whenReplicated(id, std::move(done));
      });
    }
  }
  if (Status restored = coordinator_->restore(); !restored.isOk()) {
    return storeError(path, restored);
  }
  coordinator_->start();
  if (replicator_) replicator_->start(coordinator_->storeWorker());
  handover_ = std::make_unique<PartitionHandover>(*coordinator_, replicator_.get(), metrics_);
  offset_hooks_ = std::make_unique<OffsetHooksAdapter>(
      *coordinator_, *handover_, replicator_.get(),
      config_.offsets().commit_mode() == config::v1::Offsets::SYNC
          ? proxy::CommitMode::kSync
          : proxy::CommitMode::kCheckpoint);
  proxy_.setOffsetHooks(offset_hooks_.get());
  checkpoint::registerRoutes(http_, *coordinator_,
                             {config_.http().max_blob_bytes(), config_.http().max_request_bytes()});
  addHealthRoutes();
  if (!config_.http().token_file().empty()) {
    TM_ASSIGN_OR_RETURN(token_, http::TokenFile::open(loop_, config_.http().token_file()));
    http_.requireToken(token_.get());
  }
  {
    auto reader = kafka::WatermarkReader::create(config_.proxy().upstream().bootstrap_servers(),
                                                 upstreamTls());
    if (!reader.isOk()) {
      TM_LOG(Warn, "offsets", "lag of partitions the application does not fetch is not reported")
          .kv("error", reader.status().toString());
    }
    lag_monitor_ = std::make_unique<LagMonitor>(
        loop_, *coordinator_, metrics_, reader.isOk() ? std::move(reader).value() : nullptr,
        [this](const checkpoint::PartitionId& id) { return handover_->owns(id); });
    proxy_.setWatermarkSink(lag_monitor_.get());
    lag_monitor_->start();
  }
  TM_RETURN_IF_ERROR(proxy_.start());
  openBrokerListeners();
  std::vector<config::HostPort> upstream;
  if (auto servers = config::parseHostPortList(config_.proxy().upstream().bootstrap_servers());
      servers.isOk()) {
    upstream = *servers;
  }
  upstream_probe_ = std::make_unique<UpstreamProbe>(loop_, std::move(upstream));
  upstream_probe_->start();
  TM_ASSIGN_OR_RETURN(config::HostPort http_addr, config::parseHostPort(config_.http().listen()));
  http_.setRequestTimeout(config::toMillis(config_.http().request_timeout()));
  TM_RETURN_IF_ERROR(http_.start(http_addr, config_.http().max_request_bytes()));
  return Status::ok();
}

// Best effort: with the cluster unreachable at start, listeners open as
// Metadata answers name their brokers, as they always do.
void Sidecar::openBrokerListeners() {
  auto brokers = kafka::listBrokers(config_.proxy().upstream().bootstrap_servers(), upstreamTls(),
                                    std::chrono::milliseconds(3000));
  if (!brokers.isOk()) {
    TM_LOG(Warn, "proxy", "cluster metadata unavailable at start; broker listeners open later")
        .kv("error", brokers.status().toString());
    return;
  }
  for (const auto& b : *brokers) proxy_.learnBroker(b.node_id, b.host, b.port);
}

kafka::ClientTls Sidecar::upstreamTls() const { return server::upstreamTls(config_); }

std::string Sidecar::instanceId() const { return server::instanceId(config_); }

// Offsets marked over HTTP reach the cluster's group offsets (what lag tools
// read) once durable, on the sidecar's own connection, as the application's
// own commits do on theirs: upstream never runs ahead of the checkpoint.
void Sidecar::mirrorMarkedOffsets() {
  group_committer_ = std::make_unique<kafka::GroupCommitter>(
      loop_, config_.proxy().upstream().bootstrap_servers(), upstreamTls());
  coordinator_->onMarkedDurable(
      [this](const std::map<checkpoint::PartitionId, checkpoint::CommittedOffset>& durable) {
        std::map<std::string, std::vector<kafka::GroupOffset>> by_group;
        for (const auto& [id, c] : durable) {
          by_group[id.group].push_back(
              {id.topic, id.partition, c.offset, c.leader_epoch, c.metadata.value_or("")});
        }
        for (const auto& [group, offsets] : by_group) {
          group_committer_->commit(group, offsets, [group = group, n = offsets.size()](Status s) {
            if (s.isOk()) {
              TM_LOG(Debug, "offsets", "marked offsets committed upstream")
                  .kv("group", group)
                  .kv("partitions", n);
            } else {
              TM_LOG(Warn, "offsets", "upstream refused the marked offsets")
                  .kv("group", group)
                  .kv("error", s.toString());
            }
          });
        }
      });
}

void Sidecar::shutdown(std::function<void(bool)> done) {
  shutting_down_ = true;
  const auto& t = config_.shutdown().timeout();
  const auto half = config::toMillis(t) / 2;
  TM_LOG(Info, "main", "shutting down: serving the application's open connections first")
      .kv("proxy_connections", proxy_.openSessions())
      .kv("http_in_flight", http_.inFlight())
      .kv("drain_ms", half.count());
  drain(std::chrono::steady_clock::now() + half, std::move(done));
}

// Polled rather than signalled: a connection's end is seen within 50 ms, and
// nothing on the data path has to know that a shutdown is going on.
void Sidecar::drain(std::chrono::steady_clock::time_point until, std::function<void(bool)> done) {
  const size_t open = proxy_.openSessions() + http_.inFlight();
  if (open == 0 || std::chrono::steady_clock::now() >= until) {
    if (open > 0) {
      TM_LOG(Warn, "main", "drain time over; checkpointing without the connections still open")
          .kv("proxy_connections", proxy_.openSessions())
          .kv("http_in_flight", http_.inFlight());
    }
    drain_poll_.reset();
    return finalCheckpoint(std::move(done));
  }
  drain_poll_ = loop_.createTimer(
      [this, until, done = std::move(done)]() mutable { drain(until, std::move(done)); });
  drain_poll_->arm(std::chrono::milliseconds(50));
}

void Sidecar::finalCheckpoint(std::function<void(bool)> done) {
  proxy_.stopAccepting();
  http_.stopAccepting();
  coordinator_->checkpoint("shutdown", [this, done = std::move(done)](StatusOr<uint64_t> id) {
    if (!id.isOk()) {
      TM_LOG(Error, "main", "final checkpoint failed").kv("error", id.status().toString());
      return done(false);
    }
    TM_LOG(Info, "main", "final checkpoint durable").kv("id", *id);
    if (!replicator_) return done(true);
    // Flush the outbox: the next pod may start on an empty disk.
    replicator_->whenReplicated(*id, [id = *id, done](Status s) {
      if (s.isOk()) {
        TM_LOG(Info, "main", "final checkpoint on the remote").kv("id", id);
      }
      done(s.isOk());
    });
  });
}

// Every check, named, with why it fails; ready only when all pass. The first
// failing check's message is also the top-level `reason`.
http::Response Sidecar::readiness() const {
  const auto& stats = coordinator_->stats();
  std::vector<std::pair<std::string, std::string>> checks;  // name, "" when ok
  checks.emplace_back("shutdown", shutting_down_ ? "shutting down" : "");
  checks.emplace_back("restore", coordinator_->restored() ? "" : "restoring");
  checks.emplace_back("checkpoints",
                      stats.consecutive_failures > config_.checkpoint().tolerable_failures()
                          ? std::to_string(stats.consecutive_failures) +
                                " consecutive checkpoint failures, " +
                                "the last: " + stats.last_error
                          : "");
  const std::string& db = config_.store().path();
  const std::string dir = std::filesystem::path(db).parent_path().string();
  checks.emplace_back("store", ::access(db.c_str(), W_OK) != 0 ||
                                       ::access(dir.empty() ? "." : dir.c_str(), W_OK) != 0
                                   ? db + " is not writable: " + std::strerror(errno)
                                   : "");
  checks.emplace_back("upstream", upstream_probe_->reachable()
                                      ? ""
                                      : "upstream unreachable: " + upstream_probe_->lastError());
  std::string failed_listeners;
  for (int32_t node : proxy_.failedBrokerListeners()) {
    failed_listeners += (failed_listeners.empty() ? "" : ", ") + std::to_string(node);
  }
  checks.emplace_back("broker_listeners",
                      failed_listeners.empty()
                          ? ""
                          : "no listener for broker(s) " + failed_listeners + " (port taken)");
  nlohmann::json body = {{"status", "ready"}};
  nlohmann::json named = nlohmann::json::object();
  for (const auto& [name, problem] : checks) {
    named[name] = problem.empty() ? "ok" : problem;
    if (!problem.empty() && !body.contains("reason")) {
      body["status"] = "not_ready";
      body["reason"] = problem;
    }
  }
  body["checks"] = named;
  return http::Response::json(body.contains("reason") ? 503 : 200, body.dump());
}

void Sidecar::addHealthRoutes() {
  http_.route("GET", "/metrics", [this](const http::Request&) {
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_.render();
    return r;
  });
  http_.route("GET", "/healthz", [](const http::Request&) {
    return http::Response::json(200, "{\"status\":\"ok\"}");
  });
  http_.route("GET", "/readyz", [this](const http::Request&) { return readiness(); });
}

}  // namespace tidemark::server
