#pragma once

// The checkpoint half of the local HTTP API (docs/api.md):
//   PUT/GET/DELETE /v1/state/{key}   GET /v1/state?prefix=&view=
//   POST /v1/offsets                 POST /v1/commit
//   POST /v1/checkpoints             GET /v1/checkpoints[/{id}]
// Loop thread only.

#include "sidecar/checkpoint/coordinator.h"
#include "sidecar/http/http_server.h"

namespace tidemark::checkpoint {

struct RouteLimits {
  size_t max_blob_bytes;     // the largest state value a PUT accepts (413 beyond)
  size_t max_request_bytes;  // the largest JSON body (offsets, commits without state)
};
void registerRoutes(http::HttpServer& server, Coordinator& coordinator, const RouteLimits& limits);

}  // namespace tidemark::checkpoint
