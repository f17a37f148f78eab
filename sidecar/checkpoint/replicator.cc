#include "sidecar/checkpoint/replicator.h"

#include <chrono>
#include <thread>

#include "sidecar/base/log.h"

namespace tidemark::checkpoint {
namespace {

constexpr int kReadAttempts = 3;

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

double unixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

// What the store worker read for one upload: the checkpoint, and the bytes of
// the blobs the remote lacks (held only for the upload's duration).
struct Replicator::Pending {
  Status status;
  std::optional<store::Manifest> manifest;
  std::vector<std::string> to_send;
  std::map<std::string, std::string> data;
  std::vector<store::PartitionCheckpoint> partitions;  // what goes up with it
  int64_t depth = 0;
  // Bytes the upload sent: read on the remote thread right after it, since
  // a job queued behind it there (forgetting records) sends more.
  uint64_t sent_bytes = 0;
  std::map<std::string, uint64_t> record_blobs;  // likewise
};

namespace {
// The blobs a partition record needs: its state, and (format 2, as read back
// from the remote) the blob holding its state list.
std::map<std::string, uint64_t> blobsOf(const store::PartitionCheckpoint& record) {
  std::map<std::string, uint64_t> out;
  for (const auto& ref : record.state()) {
    if (ref.size() > 0) out[ref.sha256()] = ref.size();
  }
  if (record.has_state_blob()) out[record.state_blob().sha256()] = record.state_blob().size();
  return out;
}
}  // namespace

Replicator::Replicator(event::EventLoop& loop, std::unique_ptr<store::RemoteBackend> backend,
                       std::string instance_id)
    : loop_(loop), backend_(std::move(backend)), instance_id_(std::move(instance_id)) {
  retry_ = loop_.createTimer([this] { kick(); });
}

// The remote thread goes first (it may hold an upload); waiters are dropped.
Replicator::~Replicator() { remote_thread_.reset(); }

Status Replicator::restoreInto(store::CheckpointStore& store) {
  TM_ASSIGN_OR_RETURN(std::optional<store::Manifest> local, store.latest());
  const auto started = std::chrono::steady_clock::now();
  StatusOr<store::RemoteSnapshot> read = unavailable("not read");
  for (int attempt = 1; attempt <= kReadAttempts; ++attempt) {
    read = backend_->read();
    if (read.isOk()) break;
    TM_LOG(Warn, "remote", "cannot read the remote checkpoints")
        .kv("attempt", attempt)
        .kv("error", read.status().toString());
    if (attempt < kReadAttempts) std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  if (!read.isOk()) {
    if (!local) {
      return read.status().withPrefix(
          "the local store is empty and the remote checkpoints cannot be read, so starting "
          "could contradict the group's committed offsets");
    }
    TM_LOG(Warn, "remote", "starting from the local store; the remote is read again later")
        .kv("local_id", local->id());
    return Status::ok();
  }
  store::RemoteSnapshot& remote = *read;
  uint64_t remote_id = 0;
  if (remote.latest) {
    const store::Manifest& m = *remote.latest;
    remote_id = m.id();
    if (!local || m.id() > local->id()) {
      for (const auto& ref : m.state()) {
        if (ref.size() > 0 && !remote.blobs.count(ref.sha256())) {
          return dataLoss("remote checkpoint " + std::to_string(m.id()) +
                          " references a blob the remote does not hold: " + ref.key());
        }
      }
      static const std::string kEmpty;
      TM_RETURN_IF_ERROR(store
                             .commit(m,
                                     [&](const std::string& h) -> std::optional<std::string_view> {
                                       auto it = remote.blobs.find(h);
                                       return it == remote.blobs.end()
                                                  ? std::string_view(kEmpty)
                                                  : std::string_view(it->second);
                                     })
                             .withPrefix("importing the remote checkpoint"));
      TM_RETURN_IF_ERROR(store.compact());
      TM_LOG(Info, "remote", "restored from the remote")
          .kv("id", m.id())
          .kv("local_id", local ? static_cast<int64_t>(local->id()) : 0)
          .kv("state_keys", m.state_size())
          .kv("bytes_read", remote.bytes_read)
          .kv("duration_ms",
              static_cast<int64_t>(seconds(std::chrono::steady_clock::now() - started) * 1000));
    }
  }
  std::map<std::string, uint64_t> held;
  for (const auto& [hash, data] : remote.blobs) held[hash] = data.size();
  TM_RETURN_IF_ERROR(store.syncRemoteView(held, remote_id));
  replicated_id_ = remote_id;
  std::vector<store::GroupPartition> superseded;
  for (const auto& record : remote.own_partitions) {
    const auto p = store::groupPartition(record.partition());
    if (remote.superseded.count(p)) {
      superseded.push_back(p);
    } else {
      pins_[p] = blobsOf(record);
    }
  }
  if (!superseded.empty()) {
    // Newer owners wrote these since: ours only hold blobs on the remote.
    Status s = backend_->forgetPartitions(superseded);
    TM_LOG(Info, "remote", "deleting our partition checkpoints others superseded")
        .kv("partitions", superseded.size())
        .kv("error", s.isOk() ? "" : s.toString());
  }
  return Status::ok();
}

std::vector<store::PartitionCheckpoint> Replicator::recordsToUpload(
    const store::Manifest& m) const {
  std::vector<store::PartitionCheckpoint> out = store::partitionRecords(m);
  std::erase_if(out, [&](const store::PartitionCheckpoint& r) {
    auto it = fenced_.find(r.partition().group());
    return it != fenced_.end() && r.generation() <= it->second;
  });
  return out;
}

std::map<std::string, uint64_t> Replicator::pinnedBlobs() const {
  std::map<std::string, uint64_t> out;
  for (const auto& [p, blobs] : pins_) out.insert(blobs.begin(), blobs.end());
  out.insert(record_blobs_.begin(), record_blobs_.end());
  return out;
}

void Replicator::fence(const std::string& group, int32_t generation) {
  int32_t& upto = fenced_.try_emplace(group, generation).first->second;
  upto = std::max(upto, generation);
}

void Replicator::loadPartitions(std::set<store::GroupPartition> wanted,
                                std::function<void(Loaded)> done) {
  if (!remote_thread_) return done(unavailable("the replicator has not started"));
  remote_thread_->submit<Loaded>(
      [this, wanted = std::move(wanted)] { return backend_->readPartitions(wanted); },
      [this, done = std::move(done)](Loaded loaded) {
        if (loaded.isOk()) {
          std::vector<store::GroupPartition> superseded;
          for (const auto& [p, snap] : *loaded) {
            if (snap.record.instance_id() != instance_id_ && pins_.count(p)) {
              superseded.push_back(p);
            }
          }
          if (!superseded.empty()) dropOwnRecords(superseded);
        }
        done(std::move(loaded));
      });
}

void Replicator::dropOwnRecords(const std::vector<store::GroupPartition>& partitions) {
  for (const auto& p : partitions) pins_.erase(p);
  remote_thread_->submit<Status>(
      [this, partitions] { return backend_->forgetPartitions(partitions); },
      [](Status s) {
        if (!s.isOk()) {
          TM_LOG(Warn, "remote", "could not delete superseded partition checkpoints")
              .kv("error", s.toString());
        }
      });
}

void Replicator::start(StoreWorker& store) {
  store_ = &store;
  remote_thread_ = std::make_unique<event::WorkerThread>(loop_);
  kick();
}

void Replicator::kick() {
  if (store_ == nullptr) return;
  if (in_flight_) {
    kicked_again_ = true;
    return;
  }
  in_flight_ = true;
  kicked_again_ = false;
  store_->submit<std::shared_ptr<Pending>>(
      [](store::CheckpointStore& store) {
        auto p = std::make_shared<Pending>();
        auto depth = store.outboxDepth();
        p->depth = depth.isOk() ? *depth : 0;
        auto m = store.newestUnreplicated();
        if (!m.isOk() || !m->has_value()) {
          p->status = m.isOk() ? Status::ok() : m.status();
          return p;
        }
        p->manifest = std::move(**m);
        auto missing = store.blobsNotOnRemote(*p->manifest);
        if (!missing.isOk()) {
          p->status = missing.status();
          return p;
        }
        p->to_send = *missing;
        for (const auto& hash : p->to_send) {
          auto data = store.readBlob(hash);
          if (!data.isOk()) {
            p->status = data.status();
            return p;
          }
          p->data[hash] = std::move(*data);
        }
        return p;
      },
      [this](std::shared_ptr<Pending> p) {
        outbox_depth_ = p->depth;
        outbox_bytes_ = 0;
        for (const auto& [hash, data] : p->data) outbox_bytes_ += data.size();
        if (!p->status.isOk()) return uploaded(p, p->status, 0);
        if (!p->manifest) {
          in_flight_ = false;
          if (kicked_again_) kick();
          return;
        }
        p->partitions = recordsToUpload(*p->manifest);
        remote_thread_->submit<std::pair<Status, double>>(
            [this, p] {
              const auto t0 = std::chrono::steady_clock::now();
              Status s = backend_->upload(
                  *p->manifest, p->to_send,
                  [&](const std::string& h) -> std::optional<std::string_view> {
                    auto it = p->data.find(h);
                    if (it == p->data.end()) return std::nullopt;
                    return std::string_view(it->second);
                  },
                  p->partitions);
              p->sent_bytes = backend_->lastUploadBytes();
              p->record_blobs = backend_->lastRecordBlobs();
              return std::make_pair(s, seconds(std::chrono::steady_clock::now() - t0));
            },
            [this, p](std::pair<Status, double> r) { uploaded(p, r.first, r.second); });
      });
}

void Replicator::uploaded(std::shared_ptr<Pending> p, Status s, double secs) {
  if (!s.isOk()) {
    ++consecutive_failures_;
    if (failures_ != nullptr) failures_->inc();
    TM_LOG(Warn, "remote", "upload failed; local checkpoints go on")
        .kv("id", p->manifest ? static_cast<int64_t>(p->manifest->id()) : 0)
        .kv("error", s.toString())
        .kv("consecutive_failures", consecutive_failures_);
    in_flight_ = false;
    return scheduleRetry();
  }
  const uint64_t bytes = p->sent_bytes;
  const uint64_t id = p->manifest->id();
  p->data.clear();
  for (const auto& record : p->partitions) {
    pins_[store::groupPartition(record.partition())] = blobsOf(record);
  }
  record_blobs_ = p->record_blobs;
  // `p` (not a copy of its manifest, a term per state key) travels to the
  // store worker; the loop does not touch it meanwhile.
  store_->submit<StatusOr<std::map<std::string, uint64_t>>>(
      [p, pinned = pinnedBlobs()](store::CheckpointStore& store) {
        return store.markReplicated(*p->manifest, pinned);
      },
      [this, id, bytes, secs](StatusOr<std::map<std::string, uint64_t>> unreferenced) {
        in_flight_ = false;
        if (!unreferenced.isOk()) {
          TM_LOG(Warn, "remote", "uploaded, but the store could not record it")
              .kv("id", id)
              .kv("error", unreferenced.status().toString());
          return scheduleRetry();
        }
        consecutive_failures_ = 0;
        outbox_bytes_ = 0;
        replicated_id_ = std::max(replicated_id_, id);
        last_success_unix_ = unixSeconds();
        if (uploads_ != nullptr) {
          uploads_->inc();
          bytes_->inc(static_cast<double>(bytes));
          duration_->observe(secs);
        }
        TM_LOG(Debug, "remote", "checkpoint replicated")
            .kv("id", id)
            .kv("bytes", bytes)
            .kv("duration_ms", static_cast<int64_t>(secs * 1000));
        if (!unreferenced->empty()) {
          remote_thread_->submit<Status>(
              [this, gone = std::move(*unreferenced)] { return backend_->forget(gone); },
              [](Status s) {
                if (!s.isOk()) {
                  TM_LOG(Warn, "remote", "could not delete unreferenced remote blobs")
                      .kv("error", s.toString());
                }
              });
        }
        for (auto it = waiters_.begin(); it != waiters_.end() && it->first <= replicated_id_;) {
          auto done = std::move(it->second);
          it = waiters_.erase(it);
          done(Status::ok());
        }
        kick();  // anything queued meanwhile
      });
}

void Replicator::scheduleRetry() {
  const int shift = std::min(consecutive_failures_, 5);
  retry_->arm(std::chrono::milliseconds(std::min<int64_t>(30000, 1000LL << shift) / 2));
}

void Replicator::whenReplicated(uint64_t id, std::function<void(Status)> done) {
  if (replicated_id_ >= id) return done(Status::ok());
  waiters_.emplace(id, std::move(done));
  kick();
}

void Replicator::setMetrics(metrics::Registry& registry) {
  uploads_ = &registry.counter("tidemark_remote_uploads_total",
                               "Checkpoints the remote backend acknowledged.");
  failures_ = &registry.counter("tidemark_remote_upload_failures_total",
                                "Uploads to the remote backend that failed (each is retried).");
  bytes_ = &registry.counter("tidemark_remote_uploaded_bytes_total",
                             "Bytes sent to the remote backend (blob chunks and manifests).");
  duration_ = &registry.histogram("tidemark_remote_upload_duration_seconds",
                                  "Time to upload a checkpoint until the remote acknowledged it.",
                                  metrics::exponentialBounds(0.001, 2, 16));
  registry.gaugeFn("tidemark_remote_outbox_checkpoints",
                   "Durable checkpoints not yet on the remote (only the newest is uploaded).",
                   [this] { return static_cast<double>(outbox_depth_); });
  registry.gaugeFn("tidemark_remote_outbox_bytes",
                   "State bytes the newest queued checkpoint has yet to upload (blobs the "
                   "remote does not hold).",
                   [this] { return static_cast<double>(outbox_bytes_); });
  registry.gaugeFn("tidemark_remote_last_success_timestamp_seconds",
                   "When the remote last acknowledged a checkpoint (Unix time; 0: never).",
                   [this] { return last_success_unix_; });
}

}  // namespace tidemark::checkpoint
