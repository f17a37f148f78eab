#pragma once

// `tidemark checkpoints list|show|diff|export|import`: inspects the
// checkpoints of a store offline (--store, --config; read without changing
// the file, safe while the sidecar runs) or of a running sidecar (--admin,
// its HTTP API), and moves one checkpoint between stores as a self-contained
// file (format in docs/operations.md). Exit codes as for every subcommand
// (sidecar/cli/commands.h): 0 ok, 1 runtime error, 2 usage or config error;
// an error is one line on stderr.

#include <string>
#include <vector>

namespace tidemark::cli {

int runCheckpoints(const std::vector<std::string>& args);

}  // namespace tidemark::cli
