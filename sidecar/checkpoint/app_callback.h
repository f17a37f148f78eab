#pragma once

// Samza's checkpoint flow for applications that want it
// (checkpoint.app_callback): before each checkpoint the sidecar asks the
// application — as Samza's commit asks every task — for the offsets it has
// processed and the state that goes with them, and seals that answer, so the
// checkpoint holds exactly what the application declared at that moment.
//
// Request:  POST <url>  {"trigger": "interval", "job_id": "...",
//                        "last_checkpoint_id": "..." | null}
// Answer:   200 + an app commit document (app_commit.h), sealed, then the
//           checkpoint proceeds; 204: nothing new, proceed with what is sealed.
// Anything else, a malformed answer, no connection or no answer within
// checkpoint.timeout fails that checkpoint (retried with backoff, counted
// against checkpoint.tolerable_failures). Loop thread only.

#include <memory>

#include "sidecar/checkpoint/coordinator.h"
#include "sidecar/config/scalars.h"
#include "sidecar/http/http_client.h"

namespace tidemark::checkpoint {

class AppCallback {
 public:
  // `max_value_bytes`: the largest state value an answer may carry
  // (http.max_blob_bytes, as for a PUT).
  AppCallback(event::EventLoop& loop, Coordinator& coordinator, config::HttpUrl url,
              std::string job_id, std::chrono::milliseconds timeout, size_t max_value_bytes);

  // The coordinator's prepare step (Coordinator::setPrepareStep).
  void prepare(const std::string& trigger, std::function<void(Status)> ready);

 private:
  Coordinator& coordinator_;
  config::HttpUrl url_;
  std::string job_id_;
  size_t max_value_bytes_;
  http::HttpClient client_;
};

}  // namespace tidemark::checkpoint
