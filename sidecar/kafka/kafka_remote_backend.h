#pragma once

// store::RemoteBackend on a compacted Kafka topic (records: protocol/store/
// remote.proto, docs/store-format.md). An idempotent producer (acks=all)
// writes each instance's blobs in chunks, then its manifest; a restore reads
// the whole topic from the beginning to the high watermarks, keeping the
// newest value per key, as compaction would. Blocking: call from a worker
// thread (librdkafka's delivery callbacks run inside our own flush/poll calls
// on that thread).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "protocol/store/remote.pb.h"
#include "sidecar/kafka/client_config.h"
#include "store/remote_backend.h"

struct rd_kafka_s;

namespace tidemark::kafka {

struct KafkaRemoteOptions {
  std::string bootstrap_servers;
  ClientTls tls;
  std::string topic;
  int32_t partitions = 8;           // when the topic is created
  int32_t replication_factor = -1;  // -1: the cluster's default
  uint32_t chunk_bytes = 512 * 1024;
  std::string job_id;
  std::string instance_id;
  std::chrono::milliseconds timeout{30000};  // per upload, per restore read
};

class KafkaRemoteBackend : public store::RemoteBackend {
 public:
  // The record format (RemoteKey, RemoteManifest and partition record
  // format_version) written and read. A partition record larger than one
  // record is written in format 2, by reference to a blob holding its key
  // list; a manifest, in format 3, by reference to pages of its key list
  // (format 2 manifests are still read).
  static constexpr uint32_t kRecordVersion = 1;
  static constexpr uint32_t kByReference = 2;
  static constexpr uint32_t kPaged = 3;

  static StatusOr<std::unique_ptr<KafkaRemoteBackend>> create(KafkaRemoteOptions options);
  ~KafkaRemoteBackend() override;

  Status upload(const store::Manifest& manifest, const std::vector<std::string>& blobs_to_send,
                const store::BlobSource& blobs,
                const std::vector<store::PartitionCheckpoint>& partitions) override;
  Status forget(const std::map<std::string, uint64_t>& sizes) override;
  Status forgetPartitions(const std::vector<store::GroupPartition>& partitions) override;
  StatusOr<store::RemoteSnapshot> read() override;
  StatusOr<std::map<store::GroupPartition, store::PartitionSnapshot>> readPartitions(
      const std::set<store::GroupPartition>& wanted) override;
  uint64_t lastUploadBytes() const override { return last_upload_bytes_; }
  std::map<std::string, uint64_t> lastRecordBlobs() const override;

 private:
  explicit KafkaRemoteBackend(KafkaRemoteOptions options) : options_(std::move(options)) {}
  // Creates the topic (compacted) once; an error is logged, not fatal: the
  // cluster may create it on first use, and produce reports what remains.
  void ensureTopic();
  struct Batch;
  Status send(Batch& batch, const std::string& key, const std::string* value);
  Status await(Batch& batch);
  Status sendBlob(Batch& batch, const std::string& hash, std::string_view data);
  // Sends `encoded` (a record's key list) as a blob of this instance's chunks
  // and notes it in `record_blobs`; the reference a format-2 record carries.
  StatusOr<store::v1::BlobRef> sendRecordBlob(Batch& batch, const std::string& encoded,
                                              std::map<std::string, uint64_t>& record_blobs);
  // The manifest's record: the manifest itself, or (too large for one record)
  // the manifest without its state and references to the pages of its state
  // list, whose chunks are added to `batch` unless the remote holds them.
  StatusOr<std::string> manifestRecord(Batch& batch, const store::Manifest& manifest);
  StatusOr<std::string> partitionRecord(Batch& batch, store::PartitionCheckpoint p,
                                        std::map<std::string, uint64_t>& record_blobs);
  store::v1::RemoteKey ownKey() const;
  std::string blobChunkKey(const std::string& sha256, uint32_t index) const;
  std::string manifestKey() const;
  std::string partitionKey(const store::GroupPartition& p) const;
  // Reads the topic from its start to its current end, calling `fn` for
  // every record of this job whose key this version reads (value null: a
  // tombstone), in offset order per topic partition.
  Status scan(const std::function<void(const store::v1::RemoteKey&, const std::string* value)>& fn,
              uint64_t& bytes_read);

  KafkaRemoteOptions options_;
  rd_kafka_s* producer_ = nullptr;
  bool topic_checked_ = false;
  uint64_t last_upload_bytes_ = 0;
  std::map<std::string, uint64_t> manifest_blobs_;  // the last upload's manifest's pages
  // The state-list pages of the last manifest the remote acknowledged: the
  // next manifest points at those it shares rather than sending them anew
  // (the Replicator keeps them pinned while they are referenced).
  std::set<std::string> acked_pages_;
  // What was last sent per partition, id and time left out: an unchanged
  // partition is not sent again. Its record's own blob (a large state list's)
  // stays needed while the record is live.
  struct SentPartition {
    std::string fingerprint;
    std::map<std::string, uint64_t> record_blobs;
  };
  std::map<store::GroupPartition, SentPartition> sent_partitions_;
};

}  // namespace tidemark::kafka
