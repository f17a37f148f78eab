#include "sidecar/kafka/kafka_remote_backend.h"

#include <librdkafka/rdkafka.h>

#include "protocol/store/remote.pb.h"
#include "sidecar/base/digest.h"
#include "sidecar/base/log.h"
#include "store/manifest_delta.h"
#include "store/state_pages.h"

namespace tidemark::kafka {
namespace {

int64_t ms(std::chrono::milliseconds d) { return static_cast<int64_t>(d.count()); }

Status kafkaError(const std::string& what, rd_kafka_resp_err_t err) {
  return unavailable(what + ": " + rd_kafka_err2name(err) + " (" + rd_kafka_err2str(err) + ")");
}

// The producer takes records up to chunk_bytes + kRecordHeadroom (its
// message.max.bytes); a record's value is kept within chunk_bytes.
constexpr uint64_t kRecordHeadroom = 64 * 1024;

uint32_t chunksOf(uint64_t size, uint32_t chunk_bytes) {
  return static_cast<uint32_t>((size + chunk_bytes - 1) / chunk_bytes);
}

}  // namespace

// Delivery outcomes of one group of records (an upload or a forget). Counted
// by the delivery callback, which runs inside rd_kafka_flush/poll on the
// calling thread.
struct KafkaRemoteBackend::Batch {
  int pending = 0;
  rd_kafka_resp_err_t first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

StatusOr<std::unique_ptr<KafkaRemoteBackend>> KafkaRemoteBackend::create(
    KafkaRemoteOptions options) {
  std::unique_ptr<KafkaRemoteBackend> b(new KafkaRemoteBackend(std::move(options)));
  TM_ASSIGN_OR_RETURN(
      rd_kafka_conf_t * conf,
      makeConfig(b->options_.bootstrap_servers, b->options_.tls,
                 {{"client.id", "tidemark-checkpoints"},
                  {"enable.idempotence", "true"},  // acks=all, no duplicates or reordering
                  {"linger.ms", "2"},
                  {"message.max.bytes", std::to_string(b->options_.chunk_bytes + kRecordHeadroom)},
                  {"message.timeout.ms", std::to_string(ms(b->options_.timeout))}}));
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    auto* batch = static_cast<Batch*>(m->_private);
    if (batch == nullptr) return;
    --batch->pending;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && batch->first_error == RD_KAFKA_RESP_ERR_NO_ERROR) {
      batch->first_error = m->err;
    }
  });
  char err[512];
  b->producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (b->producer_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return unavailable(std::string("librdkafka producer: ") + err);
  }
  return b;
}

KafkaRemoteBackend::~KafkaRemoteBackend() {
  if (producer_ != nullptr) {
    rd_kafka_flush(producer_, 1000);
    rd_kafka_destroy(producer_);
  }
}

void KafkaRemoteBackend::ensureTopic() {
  if (topic_checked_) return;
  // Usually there already: ask the metadata first rather than the
  // controller. All topics, not this one by name: a request naming a missing
  // topic makes brokers with auto.create.topics.enable (and the embedded
  // cluster, whose old Metadata versions cannot say otherwise) create it,
  // uncompacted and with their default partition count.
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t me = rd_kafka_metadata(producer_, /*all_topics=*/1, nullptr, &md, 5000);
  bool exists = false;
  for (int i = 0; me == RD_KAFKA_RESP_ERR_NO_ERROR && i < md->topic_cnt; ++i) {
    exists |= options_.topic == md->topics[i].topic &&
              md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[i].partition_cnt > 0;
  }
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  if (exists) {
    topic_checked_ = true;
    return;
  }
  char err[512];
  rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(options_.topic.c_str(), options_.partitions,
                                                     options_.replication_factor, err, sizeof(err));
  if (topic == nullptr) {
    TM_LOG(Warn, "remote", "checkpoint topic not created").kv("error", err);
    topic_checked_ = true;
    return;
  }
  rd_kafka_NewTopic_set_config(topic, "cleanup.policy", "compact");
  rd_kafka_queue_t* q = rd_kafka_queue_new(producer_);
  rd_kafka_AdminOptions_t* opts =
      rd_kafka_AdminOptions_new(producer_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(opts, 5000, err, sizeof(err));
  rd_kafka_CreateTopics(producer_, &topic, 1, opts, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 6000);
  std::string outcome = "no answer";
  if (ev != nullptr) {
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t** topics =
        res != nullptr ? rd_kafka_CreateTopics_result_topics(res, &n) : nullptr;
    rd_kafka_resp_err_t e =
        n > 0 ? rd_kafka_topic_result_error(topics[0]) : rd_kafka_event_error(ev);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      TM_LOG(Info, "remote", "checkpoint topic created")
          .kv("topic", options_.topic)
          .kv("partitions", options_.partitions);
    }
    outcome = e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS
                  ? ""
                  : rd_kafka_err2name(e);
    rd_kafka_event_destroy(ev);
  }
  if (!outcome.empty()) {
    TM_LOG(Warn, "remote", "could not create the checkpoint topic; relying on the cluster")
        .kv("topic", options_.topic)
        .kv("error", outcome);
  }
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy(topic);
  rd_kafka_queue_destroy(q);
  topic_checked_ = true;
}

// This instance's key, record kind still to set.
store::v1::RemoteKey KafkaRemoteBackend::ownKey() const {
  store::v1::RemoteKey key;
  key.set_format_version(kRecordVersion);
  key.set_job_id(options_.job_id);
  key.set_instance_id(options_.instance_id);
  return key;
}

std::string KafkaRemoteBackend::blobChunkKey(const std::string& sha256, uint32_t index) const {
  store::v1::RemoteKey key = ownKey();
  key.mutable_blob_chunk()->set_sha256(sha256);
  key.mutable_blob_chunk()->set_index(index);
  return key.SerializeAsString();
}

std::string KafkaRemoteBackend::partitionKey(const store::GroupPartition& p) const {
  store::v1::RemoteKey key = ownKey();
  *key.mutable_partition()->mutable_partition() = store::partitionKey(p);
  return key.SerializeAsString();
}

std::string KafkaRemoteBackend::manifestKey() const {
  store::v1::RemoteKey key = ownKey();
  key.mutable_manifest();
  return key.SerializeAsString();
}

// `value` null: a tombstone.
Status KafkaRemoteBackend::send(Batch& batch, const std::string& key, const std::string* value) {
  while (true) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_, RD_KAFKA_V_TOPIC(options_.topic.c_str()),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(value ? const_cast<char*>(value->data()) : nullptr,
                         value ? value->size() : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&batch), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++batch.pending;
      last_upload_bytes_ += key.size() + (value ? value->size() : 0);
      return Status::ok();
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) return kafkaError("produce", err);
    rd_kafka_poll(producer_, 100);  // the local queue is full: let deliveries drain it
  }
}

// Waits until every record of `batch` was delivered or failed. On timeout
// the records are purged, so their callbacks cannot outlive `batch`.
Status KafkaRemoteBackend::await(Batch& batch) {
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  while (batch.pending > 0 && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_flush(producer_, 200);
  }
  if (batch.pending > 0) {
    rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    while (batch.pending > 0) rd_kafka_poll(producer_, 50);
    return unavailable("the checkpoint topic did not acknowledge within " +
                       std::to_string(ms(options_.timeout)) + " ms");
  }
  if (batch.first_error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafkaError("the checkpoint topic refused a record", batch.first_error);
  }
  return Status::ok();
}

Status KafkaRemoteBackend::sendBlob(Batch& batch, const std::string& hash, std::string_view data) {
  const uint32_t chunks = chunksOf(data.size(), options_.chunk_bytes);
  for (uint32_t i = 0; i < chunks; ++i) {
    const std::string chunk(
        data.substr(static_cast<size_t>(i) * options_.chunk_bytes, options_.chunk_bytes));
    TM_RETURN_IF_ERROR(send(batch, blobChunkKey(hash, i), &chunk));
  }
  return Status::ok();
}

// A record larger than the producer's limit (chunk_bytes + 64 KiB) would be
// refused for good (MSG_SIZE_TOO_LARGE): a manifest lists every state key, so
// past some 6,000 keys at the default chunk size its state list travels as
// blobs, and the record (the manifest without its state) says which. The list
// is cut into pages at boundaries that follow the keys (store/state_pages.h),
// each page content addressed: a checkpoint sends again only the pages of the
// keys it changed, added or removed.
StatusOr<std::string> KafkaRemoteBackend::manifestRecord(Batch& batch,
                                                         const store::Manifest& manifest) {
  store::v1::RemoteManifest record;
  record.set_chunk_bytes(options_.chunk_bytes);
  // The record's other fields take under 32 bytes.
  if (manifest.ByteSizeLong() + 32 <= options_.chunk_bytes) {
    record.set_format_version(kRecordVersion);
    *record.mutable_manifest() = manifest;
    return record.SerializeAsString();
  }
  record.set_format_version(kPaged);
  store::copyHeader(manifest, *record.mutable_manifest());
  for (const std::string& page : store::statePages(manifest, options_.chunk_bytes)) {
    std::string hash = sha256(page);
    // On the remote already, or sent earlier in this upload (a repeated page).
    const bool held = acked_pages_.count(hash) > 0 || manifest_blobs_.count(hash) > 0;
    if (!held) TM_RETURN_IF_ERROR(sendBlob(batch, hash, page));
    manifest_blobs_[hash] = page.size();
    store::v1::BlobRef* ref = record.add_manifest_pages();
    ref->set_sha256(std::move(hash));
    ref->set_size(page.size());
  }
  return record.SerializeAsString();
}

// A partition's record: the record itself, or (its state list too large for
// one record) the record pointing at a PartitionState blob, whose chunks are
// added to `batch`; `record_blobs` gets that blob.
StatusOr<std::string> KafkaRemoteBackend::partitionRecord(
    Batch& batch, store::PartitionCheckpoint p, std::map<std::string, uint64_t>& record_blobs) {
  if (p.ByteSizeLong() <= options_.chunk_bytes) return p.SerializeAsString();
  store::v1::PartitionState state;
  *state.mutable_state() = std::move(*p.mutable_state());
  p.clear_state();
  p.set_format_version(kByReference);
  TM_ASSIGN_OR_RETURN(*p.mutable_state_blob(),
                      sendRecordBlob(batch, state.SerializeAsString(), record_blobs));
  return p.SerializeAsString();
}

StatusOr<store::v1::BlobRef> KafkaRemoteBackend::sendRecordBlob(
    Batch& batch, const std::string& encoded, std::map<std::string, uint64_t>& record_blobs) {
  store::v1::BlobRef ref;
  ref.set_sha256(sha256(encoded));
  ref.set_size(encoded.size());
  TM_RETURN_IF_ERROR(sendBlob(batch, ref.sha256(), encoded));
  record_blobs[ref.sha256()] = ref.size();
  return ref;
}

std::map<std::string, uint64_t> KafkaRemoteBackend::lastRecordBlobs() const {
  std::map<std::string, uint64_t> out = manifest_blobs_;
  for (const auto& [id, sent] : sent_partitions_) {
    out.insert(sent.record_blobs.begin(), sent.record_blobs.end());
  }
  return out;
}

Status KafkaRemoteBackend::upload(const store::Manifest& manifest,
                                  const std::vector<std::string>& blobs_to_send,
                                  const store::BlobSource& blobs,
                                  const std::vector<store::PartitionCheckpoint>& partitions) {
  ensureTopic();
  last_upload_bytes_ = 0;
  manifest_blobs_.clear();
  std::string manifest_value;
  std::map<store::GroupPartition, std::pair<std::string, SentPartition>> sending;
  {
    // Every blob the records need, before any record: the state the remote
    // lacks, and a large manifest's or partition state list's own blob.
    Batch batch;
    auto blobsFirst = [&]() -> Status {
      for (const std::string& hash : blobs_to_send) {
        auto data = blobs(hash);
        if (!data) return internalError("no data for blob " + toHex(hash));
        TM_RETURN_IF_ERROR(sendBlob(batch, hash, *data));
      }
      for (store::PartitionCheckpoint p : partitions) {
        p.set_chunk_bytes(options_.chunk_bytes);
        store::PartitionCheckpoint same = p;  // what "unchanged" compares
        same.clear_checkpoint_id();
        same.clear_created_at_ms();
        same.clear_writer_epoch();
        const auto id = store::groupPartition(p.partition());
        SentPartition sent{same.SerializeAsString(), {}};
        auto it = sent_partitions_.find(id);
        if (it != sent_partitions_.end() && it->second.fingerprint == sent.fingerprint) continue;
        TM_ASSIGN_OR_RETURN(std::string value,
                            partitionRecord(batch, std::move(p), sent.record_blobs));
        sending[id] = {std::move(value), std::move(sent)};
      }
      TM_ASSIGN_OR_RETURN(manifest_value, manifestRecord(batch, manifest));
      return Status::ok();
    };
    Status s = blobsFirst();
    Status acked = await(batch);
    TM_RETURN_IF_ERROR(s);
    // The records go only once every blob they need is acknowledged.
    TM_RETURN_IF_ERROR(acked);
  }
  Batch batch;
  for (const auto& [id, record] : sending) {
    Status s = send(batch, partitionKey(id), &record.first);
    if (!s.isOk()) {
      (void)await(batch);
      return s;
    }
  }
  TM_RETURN_IF_ERROR(send(batch, manifestKey(), &manifest_value));
  TM_RETURN_IF_ERROR(await(batch));
  for (auto& [id, record] : sending) sent_partitions_[id] = std::move(record.second);
  acked_pages_.clear();
  for (const auto& [hash, size] : manifest_blobs_) acked_pages_.insert(hash);
  return Status::ok();
}

Status KafkaRemoteBackend::forgetPartitions(const std::vector<store::GroupPartition>& partitions) {
  Batch batch;
  for (const auto& p : partitions) {
    Status s = send(batch, partitionKey(p), nullptr);
    if (!s.isOk()) {
      (void)await(batch);
      return s;
    }
    sent_partitions_.erase(p);
  }
  return await(batch);
}

Status KafkaRemoteBackend::forget(const std::map<std::string, uint64_t>& sizes) {
  Batch batch;
  for (const auto& [hash, size] : sizes) {
    for (uint32_t i = 0; i < chunksOf(size, options_.chunk_bytes); ++i) {
      Status s = send(batch, blobChunkKey(hash, i), nullptr);
      if (!s.isOk()) {
        (void)await(batch);
        return s;
      }
    }
  }
  return await(batch);
}

}  // namespace tidemark::kafka
