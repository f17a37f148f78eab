#pragma once

// The sidecar assembled: every component a `tidemark serve` process runs, wired
// to one EventLoop. Owns the components; the caller owns the loop and runs it.
// Loop thread only.

#include <memory>

#include "sidecar/checkpoint/app_callback.h"
#include "sidecar/checkpoint/coordinator.h"
#include "sidecar/config/loader.h"
#include "sidecar/event/event_loop.h"
#include "sidecar/http/http_server.h"
#include "sidecar/http/token_file.h"
#include "sidecar/kafka/group_committer.h"
#include "sidecar/proxy/proxy.h"
#include "sidecar/server/offset_hooks_adapter.h"

namespace tidemark::server {

class Sidecar {
 public:
  Sidecar(config::Config config, event::EventLoop& loop);
  ~Sidecar();

  // Opens the store, restores the latest checkpoint, then binds every
  // listener: nothing is served before restore finished.
  Status start();

  // Takes the final checkpoint, then calls `done` (also after a failure).
  void shutdown(std::function<void()> done);

  // Where the listeners ended up (after start(); ports resolved if 0 was asked).
  config::HostPort httpAddress() const { return http_.boundAddress(); }
  config::HostPort proxyAddress() const { return proxy_.bootstrapAddress(); }

 private:
  void mirrorMarkedOffsets();
  void addHealthRoutes();

  config::Config config_;
  event::EventLoop& loop_;
  metrics::Registry metrics_;               // before everything that publishes in it
  std::unique_ptr<http::TokenFile> token_;  // http.token_file, if set; outlives http_
  http::HttpServer http_;
  std::unique_ptr<checkpoint::Coordinator> coordinator_;
  std::unique_ptr<checkpoint::AppCallback> app_callback_;   // checkpoint.app_callback, if set
  std::unique_ptr<kafka::GroupCommitter> group_committer_;  // offsets marked over HTTP
  std::unique_ptr<OffsetHooksAdapter> offset_hooks_;
  proxy::Proxy proxy_;  // after the hooks it uses: destroyed first
};

}  // namespace tidemark::server
