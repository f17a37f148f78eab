#include "sidecar/checkpoint/coordinator.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include <google/protobuf/arena.h>

#include "sidecar/base/log.h"

namespace tidemark::checkpoint {

int64_t nowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t monotonicUs() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

namespace {

void buildManifest(const SealedView& view, const CoordinatorOptions& options, uint64_t writer_epoch,
                   const std::string& trigger, store::Manifest& m) {
  m.set_format_version(1);
  m.set_created_at_ms(nowMs());
  m.set_trigger(trigger);
  m.set_job_id(options.job_id);
  m.set_instance_id(options.instance_id);
  m.set_writer_epoch(writer_epoch);
  for (const auto& [id, committed] : view.offsets) {
    auto* o = m.add_offsets();
    o->mutable_key()->set_group(id.group);
    o->mutable_key()->set_topic(id.topic);
    o->mutable_key()->set_partition(id.partition);
    o->set_offset(committed.offset);
    o->set_leader_epoch(committed.leader_epoch);
    if (committed.metadata) o->set_metadata(*committed.metadata);
    if (committed.generation >= 0) o->set_generation(committed.generation);
  }
  for (const auto& [key, entry] : view.state) {
    auto* ref = m.add_state();
    if (auto scoped = parseScopedKey(key)) {
      ref->set_key(scoped->second);
      ref->mutable_partition()->set_group(scoped->first.group);
      ref->mutable_partition()->set_topic(scoped->first.topic);
      ref->mutable_partition()->set_partition(scoped->first.partition);
    } else {
      ref->set_key(key);
    }
    ref->set_sha256(entry.sha256);
    ref->set_size(entry.size);
    ref->set_content_type(entry.content_type);
  }
}

}  // namespace

Coordinator::Coordinator(CoordinatorOptions options, event::EventLoop& loop,
                         std::unique_ptr<store::CheckpointStore> store)
    : options_(std::move(options)),
      loop_(loop),
      store_(std::move(store)),
      book_(options_.seal_immediately, options_.cache_bytes) {}

Coordinator::~Coordinator() {
  worker_.reset();  // drains in-flight store work before the store goes
}

void Coordinator::setMetrics(metrics::Registry& r) {
  metrics_ = &r;
  started_ms_ = nowMs();
  duration_ = &r.histogram("tidemark_checkpoint_duration_seconds",
                           "Time from a checkpoint's start until it was durable.",
                           metrics::exponentialBounds(0.001, 2, 16));
  processed_ = &r.counter("tidemark_processed_messages_total",
                          "Messages the application processed, from its committed offsets' "
                          "advance (a partition seen first counts from its first commit).");
  coalesced_ = &r.counter("tidemark_checkpoint_triggers_coalesced_total",
                          "Triggers that arrived while a checkpoint was in flight.");
  skipped_ = &r.counter("tidemark_checkpoint_triggers_skipped_total",
                        "Interval triggers with nothing sealed since the last checkpoint.");
  bytes_written_ = &r.counter("tidemark_checkpoint_written_bytes_total",
                              "State bytes checkpoints wrote to the store.");
  bytes_deduplicated_ =
      &r.counter("tidemark_checkpoint_deduplicated_bytes_total",
                 "State bytes checkpoints referenced without writing (unchanged blobs).");
  const char* reads_help =
      "State reads (GET) by where their bytes came from: memory (staged, not yet "
      "checkpointed, or cached) or the local store.";
  reads_memory_ = &r.counter("tidemark_state_reads_total", reads_help, {{"source", "memory"}});
  reads_store_ = &r.counter("tidemark_state_reads_total", reads_help, {{"source", "store"}});
  read_failures_ = &r.counter("tidemark_state_read_failures_total",
                              "State reads whose bytes the local store could not give "
                              "(unreadable, or not matching their SHA-256: a damaged store).");
  r.gaugeFn("tidemark_state_cached_bytes",
            "Bytes of checkpointed state held in memory (at most state.cache_bytes).",
            [this] { return static_cast<double>(book_.cachedBytes()); });
  r.gaugeFn("tidemark_checkpoint_consecutive_failures",
            "Checkpoints failed in a row (readiness turns false beyond tolerable_failures).",
            [this] { return static_cast<double>(stats_.consecutive_failures); });
  r.gaugeFn("tidemark_checkpoint_last_completed_id", "Id of the latest durable checkpoint.",
            [this] { return stats_.last_id ? static_cast<double>(*stats_.last_id) : 0.0; });
  r.gaugeFn("tidemark_checkpoint_last_completed_timestamp_seconds",
            "When the latest checkpoint became durable (Unix time).",
            [this] { return stats_.last_completed_ms / 1000.0; });
  r.gaugeFn(
      "tidemark_checkpoint_seconds_since_last_completed",
      "Seconds since a checkpoint last became durable (since start, if none did yet).", [this] {
        const int64_t since = stats_.last_completed_ms ? stats_.last_completed_ms : started_ms_;
        return (nowMs() - since) / 1000.0;
      });
}

void Coordinator::count(const std::string& trigger, const char* outcome) {
  if (metrics_ == nullptr) return;
  metrics_
      ->counter("tidemark_checkpoints_total", "Checkpoints by trigger and outcome.",
                {{"trigger", trigger}, {"outcome", outcome}})
      .inc();
}

Status Coordinator::restore() {
  const int64_t start = monotonicUs();
  TM_ASSIGN_OR_RETURN(auto latest, store_->latest());
  TM_ASSIGN_OR_RETURN(retained_, store_->summaries());
  SealedView view;
  uint64_t bytes = 0;
  if (latest) {
    for (const auto& o : latest->offsets()) {
      view.offsets[{o.key().group(), o.key().topic(), o.key().partition()}] = committedOffset(o);
    }
    for (const auto& ref : latest->state()) {
      // The bytes stay in the store, verified when read (readState): a
      // restart costs the index, not the state's size. A blob the store does
      // not hold at all is damage found now.
      TM_ASSIGN_OR_RETURN(bool held, store_->hasBlob(ref.sha256()));
      if (!held) {
        return dataLoss("restoring checkpoint " + std::to_string(latest->id()) + ": no blob " +
                        store::toHex(ref.sha256()) + " for state " + ref.key());
      }
      bytes += ref.size();
      const std::string key = ref.has_partition()
                                  ? scopedKey({ref.partition().group(), ref.partition().topic(),
                                               ref.partition().partition()},
                                              ref.key())
                                  : ref.key();
      view.state.set(key, {nullptr, ref.sha256(), ref.content_type(), ref.size()});
    }
    stats_.last_id = latest->id();
    writer_epoch_ = latest->writer_epoch() + 1;
  }
  book_.restore(std::move(view));
  durable_seal_ = book_.sealed().seal;
  restored_ = true;
  if (metrics_ != nullptr) {
    metrics_->gauge("tidemark_restore_duration_seconds", "How long the restore at start took.")
        .set((monotonicUs() - start) / 1e6);
    metrics_
        ->gauge("tidemark_restore_bytes",
                "State bytes the checkpoint restored at start holds (read from the store "
                "when asked for).")
        .set(static_cast<double>(bytes));
  }
  TM_LOG(Info, "checkpoint", latest ? "restored" : "no checkpoint to restore: starting empty")
      .kv("id", latest ? std::to_string(latest->id()) : "none")
      .kv("offsets", latest ? latest->offsets_size() : 0)
      .kv("state_keys", latest ? latest->state_size() : 0)
      .kv("state_bytes", bytes)
      .kv("duration_ms", (monotonicUs() - start) / 1000);
  return Status::ok();
}

void Coordinator::start() {
  worker_ = std::make_unique<StoreWorker>(loop_, *store_);
  interval_timer_ = loop_.createTimer([this] { onInterval(); });
  interval_timer_->arm(options_.interval);
  retry_timer_ = loop_.createTimer([this] { maybeStart("retry"); });
  timeout_timer_ = loop_.createTimer([this] { onTimeout(); });
}

void Coordinator::onInterval() {
  interval_timer_->arm(options_.interval);
  // With a prepare step only the application knows whether it progressed.
  if (!prepare_ && book_.sealed().seal == durable_seal_) {
    ++stats_.skipped;  // nothing sealed since the last checkpoint (or restore)
    if (skipped_ != nullptr) skipped_->inc();
    return;
  }
  if (nowMs() - last_end_ms_ < options_.min_pause.count()) return;
  maybeStart("interval");
}

void Coordinator::onSealed(uint64_t processed) {
  messages_since_ += processed;
  if (processed_ != nullptr) processed_->inc(static_cast<double>(processed));
  if (options_.max_messages > 0 && messages_since_ >= options_.max_messages) {
    maybeStart("messages");
  }
}

void Coordinator::sealMarked(const std::map<PartitionId, CommittedOffset>& offsets) {
  const uint64_t processed = book_.seal(offsets);
  const uint64_t seal = book_.sealed().seal;
  for (const auto& [id, offset] : offsets) marked_[id] = {offset, seal};
  onSealed(processed);
}

void Coordinator::readCheckpoint(
    uint64_t id, std::function<void(StatusOr<std::optional<store::Manifest>>)> done) {
  const bool retained = std::any_of(retained_.begin(), retained_.end(),
                                    [id](const store::CheckpointSummary& s) { return s.id == id; });
  if (!retained) return done(std::optional<store::Manifest>());
  if (!worker_) return done(unavailable("the store is not open yet"));
  worker_->submit<StatusOr<std::optional<store::Manifest>>>(
      [id](store::CheckpointStore& store) { return store.get(id); }, std::move(done));
}

void Coordinator::readState(const std::string& key, View view,
                            std::function<void(StatusOr<StateEntry>)> done) {
  auto entry = book_.get(key, view);
  if (!entry) return done(notFound("no state " + describeKey(key)));
  if (entry->resident()) {
    if (reads_memory_ != nullptr) reads_memory_->inc();
    return done(std::move(*entry));
  }
  if (!worker_) return done(unavailable("the store is not open yet"));
  if (reads_store_ != nullptr) reads_store_->inc();
  const std::string sha = entry->sha256;
  worker_->submit<StatusOr<std::string>>(
      [sha](store::CheckpointStore& store) { return store.readBlob(sha); },
      [this, key, entry = std::move(*entry),
       done = std::move(done)](StatusOr<std::string> bytes) mutable {
        if (!bytes.isOk()) {
          if (read_failures_ != nullptr) read_failures_->inc();
          TM_LOG(Error, "checkpoint", "cannot read state from the store")
              .kv("key", describeKey(key))
              .kv("error", bytes.status().toString());
          return done(
              bytes.status().withPrefix("reading state " + describeKey(key) + " from the store"));
        }
        entry.data = std::make_shared<const std::string>(std::move(*bytes));
        book_.fill(key, entry.sha256, entry.data);
        done(std::move(entry));
      });
}

void Coordinator::checkpoint(const std::string& trigger, Done done) {
  const uint64_t seal = book_.sealed().seal;
  if (!prepare_ && seal == durable_seal_ && stats_.last_id && !in_flight_) {
    done(*stats_.last_id);  // everything sealed is already durable
    return;
  }
  waiters_.push_back({seal, std::move(done)});
  maybeStart(trigger);
}

void Coordinator::maybeStart(const std::string& trigger) {
  if (!restored_ || !worker_) return;
  if (in_flight_) {
    ++stats_.coalesced;
    if (coalesced_ != nullptr) coalesced_->inc();
    return;
  }
  run(trigger);
}

void Coordinator::run(const std::string& trigger) {
  in_flight_ = true;
  timed_out_ = false;
  committing_ = false;
  replicating_ = false;
  running_trigger_ = trigger;
  messages_since_ = 0;
  const uint64_t attempt = ++attempt_;
  timeout_timer_->arm(options_.timeout);
  if (!prepare_) return commit(trigger);
  prepare_(trigger, [this, trigger, attempt](Status s) {
    if (attempt != attempt_) return;  // answered after its checkpoint timed out
    if (!s.isOk()) {
      timeout_timer_->cancel();
      in_flight_ = false;
      return fail(trigger, s.withPrefix("prepare"));
    }
    commit(trigger);
  });
}

// Snapshots the sealed view and has the store worker write it.
void Coordinator::commit(const std::string& trigger) {
  committing_ = true;
  // A snapshot of the sealed view, which shares its entries with the book
  // until the book changes them: the manifest is built, committed and dropped
  // on the store worker, so the loop spends on a checkpoint only this copy, a
  // pointer per chunk of keys. The worker reads it through a plain pointer;
  // the answer owns it, so it is dropped on the loop, as SnapshotMap requires.
  auto view = std::make_shared<const SealedView>(book_.sealed());
  // All the store can ask for: bytes no durable checkpoint holds yet (every
  // other entry's are in the store), gathered for what changed, not per key.
  auto fresh =
      std::make_shared<const std::unordered_map<std::string, Blob>>(book_.blobsNotDurable());
  const int64_t started = monotonicUs();
  worker_->submit<Result>(
      [snapshot = view.get(), fresh, started, options = options_, epoch = writer_epoch_,
       trigger](store::CheckpointStore& store) {
        Result r;
        // One arena for the manifest's messages: built and dropped whole, a
        // message per key would otherwise be a malloc and a free each.
        google::protobuf::Arena arena;
        auto* manifest = google::protobuf::Arena::CreateMessage<store::Manifest>(&arena);
        buildManifest(*snapshot, options, epoch, trigger, *manifest);
        r.summary = store::summarize(*manifest);
        auto id = store.nextId(manifest->created_at_ms());
        if (!id.isOk()) {
          r.status = id.status();
          return r;
        }
        manifest->set_id(*id);
        r.summary.id = *id;
        r.status =
            store.commit(*manifest, [&](const std::string& h) -> std::optional<std::string_view> {
              auto it = fresh->find(h);
              if (it == fresh->end()) return std::nullopt;
              return std::string_view(*it->second);
            });
        if (r.status.isOk()) r.written = store.lastCommit();
        r.duration_us = monotonicUs() - started;
        return r;
      },
      [this, view, attempt = attempt_](Result r) {
        const uint64_t seal = view->seal;
        if (r.status.isOk()) book_.durable(*view);  // its bytes are in the store now
        if (!r.status.isOk() || !replicate_) return finish(seal, std::move(r));
        const uint64_t id = r.summary.id;
        if (timed_out_) {
          // Already failed by its timeout: durable here, and the replicator
          // uploads it, but nobody waits for the remote any more.
          in_flight_ = false;
          TM_LOG(Warn, "checkpoint",
                 "durable locally after its timeout; not waiting for the remote")
              .kv("id", id);
          return;
        }
        replicating_ = true;
        replicate_(id, [this, seal, attempt, r = std::move(r)](Status s) mutable {
          if (attempt != attempt_) {  // its timeout ended the attempt: a newer one covers it
            TM_LOG(Info, "checkpoint", "reached the remote after its timeout")
                .kv("id", r.summary.id)
                .kv("ok", s.isOk());
            return;
          }
          replicating_ = false;
          if (!s.isOk()) r.status = s.withPrefix("durable locally, not on the remote");
          finish(seal, std::move(r));
        });
      });
  // Queued behind the commit, so its answer has already been posted: what
  // falls out of retention is dropped after the application was told.
  worker_->submit<Status>([](store::CheckpointStore& store) { return store.compact(); },
                          [](Status s) {
                            if (!s.isOk()) {
                              TM_LOG(Warn, "checkpoint",
                                     "pruning old checkpoints failed; retried "
                                     "after the next checkpoint")
                                  .kv("error", s.toString());
                            }
                          });
}

void Coordinator::onTimeout() {
  if (!in_flight_ || timed_out_) return;
  if (!committing_ || replicating_) {
    // Waiting for the prepare step, or for the remote (sync mode) after the
    // store committed: nothing runs in the store, so the attempt simply ends
    // and its late answer is ignored. Waiting on would hold every later
    // checkpoint behind a remote that may be down for hours.
    ++attempt_;
    in_flight_ = false;
    replicating_ = false;
  } else {
    timed_out_ = true;  // the store transaction runs on; finish() records its outcome
  }
  fail(running_trigger_, deadlineExceeded("not durable within checkpoint.timeout (" +
                                          std::to_string(options_.timeout.count()) + " ms)"));
}

// Counts a failed attempt, tells its waiters and schedules the retry.
void Coordinator::fail(const std::string& trigger, const Status& status) {
  count(trigger, "failed");
  ++stats_.failed;
  ++stats_.consecutive_failures;
  stats_.last_error = status.toString();
  const auto backoff = std::chrono::milliseconds(
      std::min<int64_t>(10000, 100LL << std::min<uint32_t>(stats_.consecutive_failures, 7)));
  TM_LOG(Error, "checkpoint", "checkpoint failed")
      .kv("trigger", trigger)
      .kv("error", status.toString())
      .kv("consecutive_failures", stats_.consecutive_failures)
      .kv("retry_in_ms", static_cast<int64_t>(backoff.count()));
  std::vector<Waiter> failed;
  failed.swap(waiters_);
  for (auto& w : failed) w.done(status);
  retry_timer_->arm(backoff);
}

// The store worker is serial, so a result always belongs to the attempt in flight.
void Coordinator::finish(uint64_t seal, Result r) {
  in_flight_ = false;
  timeout_timer_->cancel();
  last_end_ms_ = nowMs();
  const bool late = timed_out_;
  if (!r.status.isOk()) {
    if (late) {
      TM_LOG(Warn, "checkpoint", "timed-out checkpoint failed in the store too")
          .kv("error", r.status.toString());
      return;  // already counted and retried by the timeout
    }
    return fail(r.summary.trigger, r.status);
  }
  if (late) {
    TM_LOG(Warn, "checkpoint", "checkpoint became durable after its timeout")
        .kv("id", r.summary.id)
        .kv("duration_us", r.duration_us);
  }
  ++stats_.taken;
  count(r.summary.trigger, "completed");
  if (duration_ != nullptr) {
    duration_->observe(r.duration_us / 1e6);
    bytes_written_->inc(static_cast<double>(r.written.bytes_written));
    bytes_deduplicated_->inc(static_cast<double>(r.written.bytes_deduplicated));
  }
  stats_.consecutive_failures = 0;
  stats_.last_error.clear();
  stats_.last_id = r.summary.id;
  stats_.last_duration_us = r.duration_us;
  stats_.last_completed_ms = last_end_ms_;
  durable_seal_ = std::max(durable_seal_, seal);
  const uint64_t id = r.summary.id;
  retained_.insert(retained_.begin(), r.summary);
  if (retained_.size() > options_.retained) retained_.resize(options_.retained);
  TM_LOG(Info, "checkpoint", "checkpoint committed")
      .kv("id", id)
      .kv("trigger", r.summary.trigger)
      .kv("offsets", r.summary.partitions)
      .kv("state_keys", r.summary.state_keys)
      .kv("duration_us", r.duration_us);
  // Listeners first: the upstream mirror of the app's commits must go out
  // before a LeaveGroup released by a waiter, or the group would reject it.
  for (auto& fn : durable_listeners_) fn(durable_seal_);
  if (!marked_.empty()) {
    std::map<PartitionId, CommittedOffset> durable;
    for (auto it = marked_.begin(); it != marked_.end();) {
      if (it->second.seal > durable_seal_) {
        ++it;
        continue;
      }
      durable[it->first] = it->second.offset;
      it = marked_.erase(it);
    }
    if (!durable.empty() && marked_listener_) marked_listener_(durable);
  }
  std::vector<Waiter> still;
  for (auto& w : waiters_) {
    if (w.seal <= durable_seal_) {
      w.done(id);
    } else {
      still.push_back(std::move(w));
    }
  }
  waiters_ = std::move(still);
  if (!waiters_.empty()) {
    run("request");
  } else if (options_.max_messages > 0 && messages_since_ >= options_.max_messages) {
    run("messages");
  }
}

}  // namespace tidemark::checkpoint
