#include "sidecar/server/sidecar.h"

#include <filesystem>

#include "sidecar/base/log.h"
#include "sidecar/checkpoint/http_api.h"
#include "store/sqlite_checkpoint_store.h"

namespace tidemark::server {

Sidecar::Sidecar(config::Config config, event::EventLoop& loop)
    : config_(std::move(config)), loop_(loop), http_(loop), proxy_(config_, loop) {}

Sidecar::~Sidecar() = default;

Status Sidecar::start() {
  const std::string& path = config_.store().path();
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  auto store = store::SqliteCheckpointStore::open(path, config_.checkpoint().retained());
  if (!store.isOk()) return store.status().withPrefix("store.path " + path);
  if (int from = (*store)->migratedFrom(); from != 0) {
    TM_LOG(Info, "store", "store format upgraded")
        .kv("path", path)
        .kv("from", from)
        .kv("to", store::SqliteCheckpointStore::kFormatVersion);
  }
  const auto& cp = config_.checkpoint();
  auto ms = [](const google::protobuf::Duration& d) {
    return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
  };
  checkpoint::CoordinatorOptions options{config_.job().id(),
                                         ms(cp.interval()),
                                         ms(cp.min_pause()),
                                         cp.max_messages(),
                                         cp.retained(),
                                         cp.tolerable_failures(),
                                         config_.state().seal_on() == config::v1::State::IMMEDIATE,
                                         ms(cp.timeout())};
  coordinator_ =
      std::make_unique<checkpoint::Coordinator>(options, loop_, std::move(store).value());
  if (!cp.app_callback().empty()) {
    TM_ASSIGN_OR_RETURN(config::HttpUrl url, config::parseHttpUrl(cp.app_callback()));
    app_callback_ = std::make_unique<checkpoint::AppCallback>(loop_, *coordinator_, std::move(url),
                                                              config_.job().id(), ms(cp.timeout()));
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
  TM_RETURN_IF_ERROR(coordinator_->restore());
  coordinator_->start();
  offset_hooks_ = std::make_unique<OffsetHooksAdapter>(
      *coordinator_, config_.offsets().commit_mode() == config::v1::Offsets::SYNC
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
  TM_RETURN_IF_ERROR(proxy_.start());
  TM_ASSIGN_OR_RETURN(config::HostPort http_addr, config::parseHostPort(config_.http().listen()));
  TM_RETURN_IF_ERROR(http_.start(http_addr, config_.http().max_request_bytes()));
  return Status::ok();
}

// Offsets marked over HTTP reach the cluster's group offsets (what lag tools
// read) once durable, on the sidecar's own connection, as the application's
// own commits do on theirs: upstream never runs ahead of the checkpoint.
void Sidecar::mirrorMarkedOffsets() {
  const auto& upstream = config_.proxy().upstream();
  kafka::ClientTls tls{upstream.tls().enabled(), upstream.tls().ca_file(),
                       upstream.tls().cert_file(), upstream.tls().key_file(),
                       upstream.tls().verify()};
  group_committer_ =
      std::make_unique<kafka::GroupCommitter>(loop_, upstream.bootstrap_servers(), tls);
  coordinator_->onMarkedDurable(
      [this](const std::map<checkpoint::PartitionId, checkpoint::CommittedOffset>& durable) {
        std::map<std::string, std::vector<kafka::GroupOffset>> by_group;
        for (const auto& [id, c] : durable) {
          by_group[id.group].push_back(
              {id.topic, id.partition, c.offset, c.leader_epoch, c.metadata.value_or("")});
        }
        for (const auto& [group, offsets] : by_group) {
          group_committer_->commit(group, offsets, [group, n = offsets.size()](Status s) {
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

void Sidecar::shutdown(std::function<void()> done) {
  coordinator_->checkpoint("shutdown", [done = std::move(done)](StatusOr<uint64_t> id) {
    if (id.isOk()) {
      TM_LOG(Info, "main", "final checkpoint durable").kv("id", *id);
    } else {
      TM_LOG(Error, "main", "final checkpoint failed").kv("error", id.status().toString());
    }
    done();
  });
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
  http_.route("GET", "/readyz", [this](const http::Request&) {
    const auto& stats = coordinator_->stats();
    if (!coordinator_->restored()) {
      return http::Response::json(503, "{\"status\":\"not_ready\",\"reason\":\"restoring\"}");
    }
    if (stats.consecutive_failures > config_.checkpoint().tolerable_failures()) {
      return http::Response::json(503, "{\"status\":\"not_ready\",\"reason\":\"" +
                                           std::to_string(stats.consecutive_failures) +
                                           " consecutive checkpoint failures\"}");
    }
    return http::Response::json(200, "{\"status\":\"ready\"}");
  });
}

}  // namespace tidemark::server
