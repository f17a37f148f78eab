// KafkaRemoteBackend's restore side. A read consumes every partition of the
// checkpoint topic from its start to the high watermark seen when the read
// began, keeping the newest value per key (what compaction keeps): read()
// this instance's records, readPartitions() the partition checkpoints of
// every instance of the job, then the blob chunks of those that win.

#include <librdkafka/rdkafka.h>

#include <map>

#include "protocol/store/remote.pb.h"
#include "sidecar/base/digest.h"
#include "sidecar/base/log.h"
#include "sidecar/kafka/kafka_remote_backend.h"
#include "store/manifest_delta.h"

namespace tidemark::kafka {
namespace {

constexpr uint64_t kLogEvery = 64ull << 20;

struct Consumer {
  rd_kafka_t* rk = nullptr;
  ~Consumer() {
    if (rk != nullptr) {
      rd_kafka_consumer_close(rk);
      rd_kafka_destroy(rk);
    }
  }
};

// (writer instance, blob hash, chunk index) -> chunk bytes.
using Chunks = std::map<std::tuple<std::string, std::string, uint32_t>, std::string>;

// The newest value of a blob chunk record, as compaction keeps it (null: a
// tombstone, the chunk deleted).
void keepChunk(Chunks& chunks, const store::v1::RemoteKey& key, const std::string* value) {
  auto id = std::make_tuple(key.instance_id(), key.blob_chunk().sha256(), key.blob_chunk().index());
  if (value == nullptr) {
    chunks.erase(id);
  } else {
    chunks[id] = *value;
  }
}

// Moves `instance`'s chunks out of `chunks` into whole blobs, each chunk
// freed once appended, so a large state is held about once, not twice.
// Chunks come ordered by (instance, hash, index); a blob with a chunk missing
// does not match its hash and is left out, as if absent.
std::map<std::string, std::string> assemble(Chunks& chunks, const std::string& instance) {
  std::map<std::string, std::string> assembled, out;
  for (auto it = chunks.lower_bound({instance, std::string(), 0});
       it != chunks.end() && std::get<0>(it->first) == instance; it = chunks.erase(it)) {
    assembled[std::get<1>(it->first)] += it->second;
  }
  for (auto& [hash, blob] : assembled) {
    if (sha256(blob) == hash) out[hash] = std::move(blob);
  }
  return out;
}

// Format 1, or format 2 (its state list still in its blob: resolveState).
std::optional<store::PartitionCheckpoint> parsePartition(const std::string& value) {
  store::PartitionCheckpoint record;
  if (!record.ParseFromString(value) ||
      (record.format_version() != KafkaRemoteBackend::kRecordVersion &&
       record.format_version() != KafkaRemoteBackend::kByReference)) {
    TM_LOG(Warn, "remote", "skipping a partition checkpoint this version cannot read");
    return std::nullopt;
  }
  return record;
}

// Parses a format-2 record's key list from its blob among `blobs` (the
// writer's, assembled and hash-checked); false if it is not there whole.
bool parseRecordBlob(const std::map<std::string, std::string>& blobs, const store::v1::BlobRef& ref,
                     google::protobuf::MessageLite& out) {
  auto blob = blobs.find(ref.sha256());
  return blob != blobs.end() && out.ParseFromString(blob->second);
}

// Fills a format-2 record's state list from its blob; false if the blob is
// not there whole. state_blob stays set: the record still needs that blob on
// the remote.
bool resolveState(store::PartitionCheckpoint& record,
                  const std::map<std::string, std::string>& blobs) {
  if (!record.has_state_blob()) return true;
  store::v1::PartitionState state;
  if (!parseRecordBlob(blobs, record.state_blob(), state)) return false;
  *record.mutable_state() = std::move(*state.mutable_state());
  return true;
}

std::string partitionName(const store::GroupPartition& p) {
  return p.group + "/" + p.topic + "/" + std::to_string(p.partition);
}

}  // namespace

Status KafkaRemoteBackend::scan(
    const std::function<void(const store::v1::RemoteKey&, const std::string* value)>& fn,
    uint64_t& bytes_read) {
  // Created first (compacted, remote.kafka.partitions): the read's metadata
  // request names the topic, which would have the cluster create it otherwise.
  ensureTopic();
  const int timeout_ms = static_cast<int>(options_.timeout.count());
  TM_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf,
                      makeConfig(options_.bootstrap_servers, options_.tls,
                                 {{"client.id", "tidemark-restore"},
                                  {"group.id", "tidemark-restore-unused"},  // never joined
                                  {"enable.auto.commit", "false"},
                                  {"enable.partition.eof", "true"},
                                  {"allow.auto.create.topics", "false"}}));
  char err[512];
  Consumer c;
  c.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (c.rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return unavailable(std::string("librdkafka consumer: ") + err);
  }
  // Which partitions, and where each ends now.
  rd_kafka_topic_t* handle = rd_kafka_topic_new(c.rk, options_.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(c.rk, 0, handle, &md, timeout_ms);
  rd_kafka_topic_destroy(handle);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unavailable(std::string("checkpoint topic metadata: ") + rd_kafka_err2name(e));
  }
  std::vector<int32_t> partitions;
  const bool missing = md->topic_cnt == 0 ||
                       md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                       md->topics[0].partition_cnt == 0;
  if (!missing) {
    for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
      partitions.push_back(md->topics[0].partitions[i].id);
    }
  }
  rd_kafka_metadata_destroy(md);
  if (missing) return Status::ok();  // nothing was ever replicated

  rd_kafka_topic_partition_list_t* assignment =
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  std::map<int32_t, int64_t> end;  // partition -> high watermark at the start
  for (int32_t p : partitions) {
    int64_t low = 0, high = 0;
    e = rd_kafka_query_watermark_offsets(c.rk, options_.topic.c_str(), p, &low, &high, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_topic_partition_list_destroy(assignment);
      return unavailable(std::string("checkpoint topic watermarks: ") + rd_kafka_err2name(e));
    }
    if (high <= low) continue;
    end[p] = high;
    rd_kafka_topic_partition_list_add(assignment, options_.topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  e = rd_kafka_assign(c.rk, assignment);
  rd_kafka_topic_partition_list_destroy(assignment);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unavailable(std::string("checkpoint topic assign: ") + rd_kafka_err2name(e));
  }

  uint64_t next_log = bytes_read + kLogEvery;
  auto last_progress = std::chrono::steady_clock::now();
  std::string value;
  while (!end.empty()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c.rk, 200);
    if (m == nullptr) {
      if (std::chrono::steady_clock::now() - last_progress > options_.timeout) {
        return unavailable("reading the checkpoint topic made no progress for " +
                           std::to_string(timeout_ms) + " ms");
      }
      continue;
    }
    last_progress = std::chrono::steady_clock::now();
    const int32_t p = m->partition;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (end.count(p) && m->offset >= end[p]) end.erase(p);
      rd_kafka_message_destroy(m);
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Status s =
          unavailable(std::string("reading the checkpoint topic: ") + rd_kafka_err2name(m->err));
      rd_kafka_message_destroy(m);
      return s;
    }
    bytes_read += m->len + m->key_len;
    if (bytes_read >= next_log) {
      TM_LOG(Info, "remote", "restore reading").kv("mib", bytes_read >> 20);
      next_log += kLogEvery;
    }
    store::v1::RemoteKey key;
    if (m->key != nullptr && key.ParseFromArray(m->key, static_cast<int>(m->key_len)) &&
        key.format_version() == kRecordVersion && key.job_id() == options_.job_id) {
      if (m->payload == nullptr) {
        fn(key, nullptr);  // a tombstone
      } else {
        value.assign(static_cast<const char*>(m->payload), m->len);
        fn(key, &value);
      }
    }  // other jobs' records, and formats this version does not know: skipped
    if (end.count(p) && m->offset + 1 >= end[p]) end.erase(p);
    rd_kafka_message_destroy(m);
  }
  return Status::ok();
}

StatusOr<store::RemoteSnapshot> KafkaRemoteBackend::read() {
  store::RemoteSnapshot out;
  std::optional<std::string> manifest_value;
  Chunks chunks;
  // Every instance's partition checkpoints: to tell which of ours are superseded.
  std::map<std::pair<store::GroupPartition, std::string>, std::string> partitions;
  TM_RETURN_IF_ERROR(scan(
      [&](const store::v1::RemoteKey& key, const std::string* value) {
        const bool mine = key.instance_id() == options_.instance_id;
        if (mine && key.has_manifest()) {
          manifest_value = value ? std::optional<std::string>(*value) : std::nullopt;
        } else if (mine && key.has_blob_chunk()) {
          keepChunk(chunks, key, value);
        } else if (key.has_partition()) {
          auto id =
              std::make_pair(store::groupPartition(key.partition().partition()), key.instance_id());
          if (value == nullptr) {
            partitions.erase(id);
          } else {
            partitions[id] = *value;
          }
        }  // record kinds this version does not know: skipped
      },
      out.bytes_read));
  out.blobs = assemble(chunks, options_.instance_id);
  if (manifest_value) {
    store::v1::RemoteManifest record;
    const bool parsed = record.ParseFromString(*manifest_value);
    if (parsed && record.format_version() == kRecordVersion) {
      out.latest = record.manifest();
    } else if (parsed && record.format_version() == kByReference) {
      store::Manifest m;  // the blob: a Manifest holding only the state
      if (!parseRecordBlob(out.blobs, record.manifest_blob(), m)) {
        return dataLoss("the remote manifest record points at state-list blob " +
                        toHex(record.manifest_blob().sha256()) +
                        ", which the remote does not hold whole");
      }
      store::copyHeader(record.manifest(), m);
      out.latest = std::move(m);
    } else if (parsed && record.format_version() == kPaged) {
      store::Manifest m;  // the pages, merged in order: a Manifest holding only the state
      for (const store::v1::BlobRef& page : record.manifest_pages()) {
        auto blob = out.blobs.find(page.sha256());
        if (blob == out.blobs.end() || !m.MergeFromString(blob->second)) {
          return dataLoss("the remote manifest record points at state-list page " +
                          toHex(page.sha256()) + ", which the remote does not hold whole");
        }
      }
      store::copyHeader(record.manifest(), m);
      out.latest = std::move(m);
    } else {
      TM_LOG(Warn, "remote", "skipping a manifest this version cannot read");
    }
  }
  std::map<store::GroupPartition, store::PartitionCheckpoint> newest_other;
  for (const auto& [id, value] : partitions) {
    auto record = parsePartition(value);
    if (!record) continue;
    if (id.second == options_.instance_id) {
      if (!resolveState(*record, out.blobs)) {  // its own blob is still pinned
        TM_LOG(Warn, "remote", "our partition checkpoint's state list is not on the remote whole")
            .kv("partition", partitionName(id.first));
      }
      out.own_partitions.push_back(*record);
      continue;
    }
    auto [it, fresh] = newest_other.try_emplace(id.first, *record);
    if (!fresh && store::newerThan(*record, it->second)) it->second = *record;
  }
  for (const auto& own : out.own_partitions) {
    auto it = newest_other.find(store::groupPartition(own.partition()));
    if (it != newest_other.end() && store::newerThan(it->second, own)) {
      out.superseded.insert(it->first);
    }
  }
  return out;
}

StatusOr<std::map<store::GroupPartition, store::PartitionSnapshot>>
KafkaRemoteBackend::readPartitions(const std::set<store::GroupPartition>& wanted) {
  std::map<store::GroupPartition, store::PartitionSnapshot> out;
  if (wanted.empty()) return out;
  // First pass: every writer's checkpoint of the wanted partitions.
  std::map<std::pair<store::GroupPartition, std::string>, std::string> records;
  uint64_t bytes = 0;
  TM_RETURN_IF_ERROR(scan(
      [&](const store::v1::RemoteKey& key, const std::string* value) {
        if (!key.has_partition()) return;
        auto p = store::groupPartition(key.partition().partition());
        if (!wanted.count(p)) return;
        auto id = std::make_pair(p, key.instance_id());
        if (value == nullptr) {
          records.erase(id);
        } else {
          records[id] = *value;
        }
      },
      bytes));
  for (const auto& [id, value] : records) {
    auto record = parsePartition(value);
    if (!record) continue;
    record->set_instance_id(id.second);  // the key says who wrote it
    auto it = out.find(id.first);
    if (it == out.end()) {
      out[id.first].record = *record;
    } else if (store::newerThan(*record, it->second.record)) {
      it->second.record = *record;
    }
  }
  // Then the winners' blobs, from their writers' chunks: a format-2 record's
  // state list first, and what that lists in one more pass.
  using Needed = std::set<std::pair<std::string, std::string>>;  // (instance, hash)
  std::map<std::string, std::map<std::string, std::string>> by_instance;
  auto collect = [&](const Needed& needed) -> Status {
    if (needed.empty()) return Status::ok();
    Chunks chunks;
    TM_RETURN_IF_ERROR(scan(
        [&](const store::v1::RemoteKey& key, const std::string* value) {
          if (!key.has_blob_chunk() ||
              !needed.count({key.instance_id(), key.blob_chunk().sha256()})) {
            return;
          }
          keepChunk(chunks, key, value);
        },
        bytes));
    std::set<std::string> writers;
    for (const auto& [instance, hash] : needed) writers.insert(instance);
    for (const auto& instance : writers) {
      for (auto& [h, blob] : assemble(chunks, instance)) by_instance[instance][h] = std::move(blob);
    }
    return Status::ok();
  };
  auto refsOf = [&](Needed& needed) {
    for (const auto& [p, snap] : out) {
      const std::string& writer = snap.record.instance_id();
      for (const auto& ref : snap.record.state()) {
        if (ref.size() > 0 && !by_instance[writer].count(ref.sha256())) {
          needed.emplace(writer, ref.sha256());
        }
      }
    }
  };
  Needed needed;
  for (const auto& [p, snap] : out) {
    if (snap.record.has_state_blob()) {
      needed.emplace(snap.record.instance_id(), snap.record.state_blob().sha256());
    }
  }
  refsOf(needed);
  TM_RETURN_IF_ERROR(collect(needed));
  for (auto& [p, snap] : out) {
    if (!resolveState(snap.record, by_instance[snap.record.instance_id()])) {
      return dataLoss("the remote checkpoint of " + partitionName(p) + " by " +
                      snap.record.instance_id() +
                      " points at a state list the remote does not hold whole");
    }
  }
  Needed more;  // what the state lists just read name
  refsOf(more);
  TM_RETURN_IF_ERROR(collect(more));
  for (auto& [p, snap] : out) {
    const std::string& writer = snap.record.instance_id();
    const auto& held = by_instance[writer];
    for (const auto& ref : snap.record.state()) {
      if (ref.size() == 0) continue;
      auto blob = held.find(ref.sha256());
      if (blob == held.end()) {
        return dataLoss("the remote checkpoint of " + partitionName(p) + " by " + writer +
                        " references a blob the remote does not hold: " + ref.key());
      }
      snap.blobs[ref.sha256()] = blob->second;
    }
  }
  return out;
}

}  // namespace tidemark::kafka
