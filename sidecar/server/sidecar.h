#pragma once

// The sidecar assembled: every component a `tidemark serve` process runs, wired
// to one EventLoop. Owns the components; the caller owns the loop and runs it.
// Loop thread only.

#include <memory>

#include "sidecar/checkpoint/app_callback.h"
#include "sidecar/checkpoint/coordinator.h"
#include "sidecar/checkpoint/replicator.h"
#include "sidecar/config/loader.h"
#include "sidecar/event/event_loop.h"
#include "sidecar/http/http_server.h"
#include "sidecar/http/token_file.h"
#include "sidecar/kafka/group_committer.h"
#include "sidecar/proxy/proxy.h"
#include "sidecar/server/lag_monitor.h"
#include "sidecar/server/offset_hooks_adapter.h"
#include "sidecar/server/upstream_probe.h"

namespace tidemark::server {

class Sidecar {
 public:
  Sidecar(config::Config config, event::EventLoop& loop);
  ~Sidecar();

  // Opens the store, restores the latest checkpoint, then binds every
  // listener: nothing is served before restore finished.
  Status start();

  // The graceful stop (SIGTERM), like a service mesh's drain: readiness turns
  // false; the application's open proxy connections and HTTP requests in
  // flight are served until they end (it may be committing its last offsets
  // and leaving its group) or half of shutdown.timeout passed; then every
  // listener closes and the final checkpoint is taken. Calls `done` with
  // whether that checkpoint is durable. Enforcing shutdown.timeout as a
  // whole is the caller's (it can exit the process; this cannot).
  void shutdown(std::function<void(bool durable)> done);

  // Where the listeners ended up (after start(); ports resolved if 0 was asked).
  config::HostPort httpAddress() const { return http_.boundAddress(); }
  config::HostPort proxyAddress() const { return proxy_.bootstrapAddress(); }

 private:
  void mirrorMarkedOffsets();
  std::string instanceId() const;
  kafka::ClientTls upstreamTls() const;
  void openBrokerListeners();
  void addHealthRoutes();
  http::Response readiness() const;
  void drain(std::chrono::steady_clock::time_point until, std::function<void(bool)> done);
  void finalCheckpoint(std::function<void(bool)> done);

  config::Config config_;
  event::EventLoop& loop_;
  metrics::Registry metrics_;               // before everything that publishes in it
  std::unique_ptr<http::TokenFile> token_;  // http.token_file, if set; outlives http_
  http::HttpServer http_;
  std::unique_ptr<checkpoint::Coordinator> coordinator_;
  std::unique_ptr<checkpoint::Replicator> replicator_;      // remote.mode async/sync; uses the
                                                            // coordinator's store worker
  std::unique_ptr<checkpoint::AppCallback> app_callback_;   // checkpoint.app_callback, if set
  std::unique_ptr<kafka::GroupCommitter> group_committer_;  // offsets marked over HTTP
  std::unique_ptr<PartitionHandover> handover_;
  std::unique_ptr<OffsetHooksAdapter> offset_hooks_;
  std::unique_ptr<LagMonitor> lag_monitor_;  // the proxy's watermark sink
  proxy::Proxy proxy_;                       // after the hooks and sink it uses: destroyed first
  std::unique_ptr<UpstreamProbe> upstream_probe_;
  bool shutting_down_ = false;
  std::unique_ptr<event::Timer> drain_poll_;
};

}  // namespace tidemark::server
