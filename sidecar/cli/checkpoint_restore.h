#pragma once

// `tidemark checkpoints restore ID`: rewinds a stopped sidecar's store to a
// retained checkpoint, like Flink's restore-from-checkpoint. The checkpoint
// is committed again as the newest one (new id, trigger "restore"), so the
// sidecar restores it when it next starts and the history stays intact.
//
// Refused (FailedPrecondition) while the store is open in another process,
// and while a consumer group the checkpoint holds offsets of has active
// members on the cluster — rewinding under a running application would hand
// it offsets and state it has already moved past — or when that cannot be
// asked, unless `force`. The groups' offsets on the cluster are rewound too
// (a memberless commit, which the cluster allows only for a group without
// members: the same step is the check), so they never run ahead of the store. With a remote (the
// config's remote.mode), the restored offsets take the newest generation the remote holds for their
// partitions, so that the partition records the sidecar then uploads supersede the newer ones there
// instead of losing to them.

#include <cstdint>
#include <optional>
#include <string>

#include "sidecar/base/status.h"
#include "sidecar/config/loader.h"

namespace tidemark::cli {

struct RestoreOptions {
  std::string store_path;
  std::optional<uint64_t> id;            // nullopt: the latest
  std::optional<config::Config> config;  // --config: the cluster and the remote
  std::string bootstrap_servers;         // --bootstrap: the cluster, overriding the config's
  bool force = false;
};

// Prints one summary line on stdout; progress of large state on stderr.
Status restoreCheckpoint(const RestoreOptions& options);

}  // namespace tidemark::cli
