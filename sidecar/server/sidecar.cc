#include "sidecar/server/sidecar.h"

#include "sidecar/base/log.h"

namespace tidemark::server {

Sidecar::Sidecar(config::Config config, event::EventLoop& loop)
    : config_(std::move(config)), loop_(loop), http_(loop), proxy_(config_, loop) {}

Sidecar::~Sidecar() = default;

Status Sidecar::start() {
  addHealthRoutes();
  TM_RETURN_IF_ERROR(proxy_.start());
  TM_ASSIGN_OR_RETURN(config::HostPort http_addr, config::parseHostPort(config_.http().listen()));
  TM_RETURN_IF_ERROR(http_.start(http_addr, config_.http().max_blob_bytes()));
  return Status::ok();
}

void Sidecar::addHealthRoutes() {
  http_.route("GET", "/healthz", [](const http::Request&) {
    return http::Response::json(200, "{\"status\":\"ok\"}");
  });
  http_.route("GET", "/readyz", [](const http::Request&) {
    return http::Response::json(200, "{\"status\":\"ready\"}");
  });
}

}  // namespace tidemark::server
