#pragma once

// Runs a Sidecar on a fresh EventLoop until SIGINT/SIGTERM: shared by
// `tidemark serve` and `tidemark dev`.

#include <functional>

#include "sidecar/config/loader.h"
#include "sidecar/server/sidecar.h"

namespace tidemark::cli {

// `on_started` runs once every listener is bound (dev prints its banner there).
// Returns the exit code.
int runSidecar(const config::Config& config,
               const std::function<void(server::Sidecar&)>& on_started);

// Applies log.level from the config.
void applyLogConfig(const config::Config& config);

}  // namespace tidemark::cli
