#include "sidecar/cli/checkpoint_restore.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "sidecar/cli/checkpoint_documents.h"
#include "sidecar/cli/checkpoint_sources.h"
#include "sidecar/cli/progress.h"
#include "sidecar/kafka/group_rewind.h"
#include "sidecar/kafka/kafka_remote_backend.h"
#include "sidecar/server/remote_config.h"
#include "store/sqlite_checkpoint_store.h"

namespace tidemark::cli {
namespace {

constexpr std::chrono::seconds kClusterTimeout{10};

Status refuse(const std::string& why) {
  return failedPrecondition(why + "; --force restores anyway");
}

// Each group's offsets on the cluster are rewound with the store (so they do
// not run ahead of it), which the cluster allows only while the group has no
// active members: that is also the check that the application is stopped.
Status rewindGroups(const RestoreOptions& o, const store::Manifest& m) {
  std::map<std::string, std::vector<kafka::GroupOffset>> by_group;
  for (const auto& off : m.offsets()) {
    by_group[off.key().group()].push_back({off.key().topic(), off.key().partition(), off.offset(),
                                           off.leader_epoch(), off.metadata()});
  }
  if (by_group.empty()) return Status::ok();
  std::string bootstrap = o.bootstrap_servers;
  if (bootstrap.empty() && o.config) bootstrap = o.config->proxy().upstream().bootstrap_servers();
  if (bootstrap.empty()) {
    if (o.force) return Status::ok();
    return refuse(
        "cannot tell whether the application still consumes: give --config or "
        "--bootstrap so the cluster can be asked about its groups");
  }
  const kafka::ClientTls tls =
      o.config && o.bootstrap_servers.empty() ? server::upstreamTls(*o.config) : kafka::ClientTls{};
  for (const auto& [group, offsets] : by_group) {
    Status s = kafka::commitWhileIdle(bootstrap, tls, group, offsets, kClusterTimeout);
    if (s.isOk()) continue;
    if (o.force) {
      std::fprintf(stderr, "tidemark: warning: %s; the group's offsets on the cluster stay\n",
                   s.message().c_str());
      continue;
    }
    if (s.code() == StatusCode::kFailedPrecondition) {
      return refuse(s.message() +
                    ": stop the application first, rewinding under it would hand it offsets and "
                    "state it has moved past");
    }
    return refuse("cannot ask the cluster whether the application still consumes (" + s.message() +
                  ")");
  }
  return Status::ok();
}

// With a remote: each restored offset takes the newest generation the
// remote holds for its partition.
Status supersedeRemote(const RestoreOptions& o, store::Manifest& m) {
  if (!o.config || o.config->remote().mode() == config::v1::Remote::OFF) return Status::ok();
  std::set<store::GroupPartition> partitions;
  for (const auto& off : m.offsets()) partitions.insert(store::groupPartition(off.key()));
  if (partitions.empty()) return Status::ok();
  auto backend = kafka::KafkaRemoteBackend::create(server::remoteOptions(*o.config));
  StatusOr<std::map<store::GroupPartition, store::PartitionSnapshot>> remote =
      backend.isOk()
          ? (*backend)->readPartitions(partitions)
          : StatusOr<std::map<store::GroupPartition, store::PartitionSnapshot>>(backend.status());
  if (!remote.isOk()) {
    if (o.force) {
      std::fprintf(stderr,
                   "tidemark: warning: the remote's partition checkpoints were not read (%s): "
                   "newer ones there may win over the restored offsets\n",
                   remote.status().message().c_str());
      return Status::ok();
    }
    return refuse("cannot read the remote's partition checkpoints (" + remote.status().message() +
                  "): newer ones there would win over the restored offsets");
  }
  for (auto& off : *m.mutable_offsets()) {
    auto it = remote->find(store::groupPartition(off.key()));
    if (it == remote->end()) continue;
    const int32_t newest = it->second.record.generation();
    if (!off.has_generation() || off.generation() < newest) off.set_generation(newest);
  }
  return Status::ok();
}

}  // namespace

Status restoreCheckpoint(const RestoreOptions& o) {
  std::error_code ec;
  if (!std::filesystem::exists(o.store_path, ec)) {
    return notFound("store " + o.store_path + " does not exist");
  }
  TM_RETURN_IF_ERROR(checkNotInUse(o.store_path, "restore"));
  // Never prunes (no compaction): the sidecar's next checkpoint applies
  // checkpoint.retained.
  auto store = store::SqliteCheckpointStore::open(o.store_path, /*retained=*/1);
  if (!store.isOk()) return store.status().withPrefix("store " + o.store_path);
  std::optional<store::Manifest> found;
  if (o.id) {
    TM_ASSIGN_OR_RETURN(found, (*store)->get(*o.id));
  } else {
    TM_ASSIGN_OR_RETURN(found, (*store)->latest());
  }
  if (!found) {
    return notFound(o.id ? "checkpoint " + std::to_string(*o.id) + " is not retained in " +
                               o.store_path
                         : "store " + o.store_path + " holds no checkpoint");
  }
  store::Manifest m = *found;
  TM_RETURN_IF_ERROR(supersedeRemote(o, m));
  TM_RETURN_IF_ERROR(rewindGroups(o, m));

  std::map<std::string, std::string> blobs;
  uint64_t total = 0;
  for (const auto& ref : m.state()) total += ref.size();
  Progress progress("restore", "read", total);
  for (const auto& ref : m.state()) {
    if (ref.size() == 0) blobs.emplace(ref.sha256(), std::string());
    if (blobs.count(ref.sha256())) continue;
    TM_ASSIGN_OR_RETURN(std::string data, (*store)->readBlob(ref.sha256()));
    progress.add(data.size());
    blobs.emplace(ref.sha256(), std::move(data));
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  TM_ASSIGN_OR_RETURN(uint64_t id, (*store)->nextId(now_ms));
  m.set_id(id);
  m.set_created_at_ms(now_ms);
  m.set_trigger("restore");
  Status s = (*store)->commit(m, [&](const std::string& hash) -> std::optional<std::string_view> {
    auto it = blobs.find(hash);
    return it == blobs.end() ? std::nullopt : std::optional<std::string_view>(it->second);
  });
  if (!s.isOk()) return s.withPrefix("store " + o.store_path);
  std::printf(
      "restored checkpoint %llu as checkpoint %llu in %s (%d partitions, %d state keys, %s of "
      "state); the sidecar restores it when it next starts\n",
      static_cast<unsigned long long>(found->id()), static_cast<unsigned long long>(id),
      o.store_path.c_str(), m.offsets_size(), m.state_size(), humanBytes(total).c_str());
  return Status::ok();
}

}  // namespace tidemark::cli
