// KafkaRemoteBackend::read(): the restore side. Reads every partition of the
// checkpoint topic from its start to the high watermark seen when the read
// began, keeping this instance's newest value per key (what compaction
// keeps), then assembles the blobs from their chunks.

#include <librdkafka/rdkafka.h>

#include <map>

#include "protocol/store/remote.pb.h"
#include "sidecar/base/digest.h"
#include "sidecar/base/log.h"
#include "sidecar/kafka/kafka_remote_backend.h"

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

}  // namespace

StatusOr<store::RemoteSnapshot> KafkaRemoteBackend::read() {
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
  store::RemoteSnapshot out;
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
  if (missing) return out;  // nothing was ever replicated

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

  std::string manifest_value;
  bool have_manifest = false;
  std::map<std::pair<std::string, uint32_t>, std::string> chunks;
  uint64_t next_log = kLogEvery;
  auto last_progress = std::chrono::steady_clock::now();
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
    out.bytes_read += m->len + m->key_len;
    if (out.bytes_read >= next_log) {
      TM_LOG(Info, "remote", "restore reading").kv("mib", out.bytes_read >> 20);
      next_log += kLogEvery;
    }
    store::v1::RemoteKey key;
    const bool mine = m->key != nullptr &&
                      key.ParseFromArray(m->key, static_cast<int>(m->key_len)) &&
                      key.format_version() == kRecordVersion && key.job_id() == options_.job_id &&
                      key.instance_id() == options_.instance_id;
    if (mine && key.has_manifest()) {
      have_manifest = m->payload != nullptr;
      manifest_value.assign(static_cast<const char*>(m->payload ? m->payload : ""), m->len);
    } else if (mine && key.has_blob_chunk()) {
      auto id = std::make_pair(key.blob_chunk().sha256(), key.blob_chunk().index());
      if (m->payload == nullptr) {
        chunks.erase(id);  // tombstone
      } else {
        chunks[id].assign(static_cast<const char*>(m->payload), m->len);
      }
    }  // other instances' records, and kinds this version does not know: skipped
    if (end.count(p) && m->offset + 1 >= end[p]) end.erase(p);
    rd_kafka_message_destroy(m);
  }

  // Chunks come ordered by (hash, index); a blob with a chunk missing does
  // not match its hash and is left out, as if absent.
  std::map<std::string, std::string> assembled;
  for (auto& [id, bytes] : chunks) assembled[id.first] += bytes;
  for (auto& [hash, blob] : assembled) {
    if (sha256(blob) == hash) out.blobs[hash] = std::move(blob);
  }
  if (have_manifest) {
    store::v1::RemoteManifest record;
    if (!record.ParseFromString(manifest_value) || record.format_version() != kRecordVersion) {
      TM_LOG(Warn, "remote", "skipping a manifest this version cannot read");
    } else {
      out.latest = record.manifest();
    }
  }
  return out;
}

}  // namespace tidemark::kafka
