#pragma once

// Where checkpoints are replicated so that a pod rescheduled onto an empty
// disk gets its state back (Samza's remote checkpoint/state backend). The
// first implementation is a compacted Kafka topic (sidecar/kafka/
// kafka_remote_backend.h); the records are specified in docs/store-format.md.
//
// Contract:
// - Calls block and run on a worker thread, never on an event loop.
// - upload() sends the blobs first, then the partition checkpoints and the
//   manifest, and returns OK only once the remote acknowledged every record:
//   a remote manifest or partition checkpoint never points at a blob that is
//   not there. A failed upload may have sent some records; nothing else is
//   assumed about them. A partition checkpoint identical to the one this
//   backend last sent for that partition (but for its id and time) may be
//   skipped.
// - forget() deletes blobs (Kafka: tombstones). Callers forget only blobs no
//   uploaded manifest or live partition checkpoint of theirs references.
//   forgetPartitions() deletes this instance's partition checkpoints.
// - read() returns this instance's newest manifest, its partition
//   checkpoints and the blobs on the remote; readPartitions() returns, for
//   each partition asked, the newest partition checkpoint any instance of
//   the job wrote (store/partition_records.h: newerThan) with its blobs.
//   Records they do not understand are skipped, not fatal.
// - Errors are Status values (Unavailable while the remote cannot be reached).

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "store/checkpoint_store.h"
#include "store/partition_records.h"

namespace tidemark::store {

// What read() found for this instance.
struct RemoteSnapshot {
  std::optional<Manifest> latest;
  // Every blob with all its chunks on the remote, by SHA-256.
  std::map<std::string, std::string> blobs;
  // This instance's partition checkpoints on the remote; `superseded`: those
  // of them another instance has since written a newer one of.
  std::vector<PartitionCheckpoint> own_partitions;
  std::set<GroupPartition> superseded;
  uint64_t bytes_read = 0;  // everything consumed, for the restore log and metric
};

// A partition's newest checkpoint on the remote and the blobs it references.
struct PartitionSnapshot {
  PartitionCheckpoint record;
  std::map<std::string, std::string> blobs;  // by SHA-256
};

class RemoteBackend {
 public:
  virtual ~RemoteBackend() = default;

  // Uploads the blobs listed in `blobs_to_send` (the caller knows the rest
  // are on the remote already), then `partitions` and `manifest`.
  virtual Status upload(const Manifest& manifest, const std::vector<std::string>& blobs_to_send,
                        const BlobSource& blobs,
                        const std::vector<PartitionCheckpoint>& partitions) = 0;
  // Deletes these blobs from the remote. `sizes`: each blob's size, which
  // says how many chunks it has.
  virtual Status forget(const std::map<std::string, uint64_t>& sizes) = 0;
  virtual Status forgetPartitions(const std::vector<GroupPartition>& partitions) = 0;
  virtual StatusOr<RemoteSnapshot> read() = 0;
  // Partitions with no checkpoint on the remote are absent from the answer.
  virtual StatusOr<std::map<GroupPartition, PartitionSnapshot>> readPartitions(
      const std::set<GroupPartition>& wanted) = 0;
  // Bytes handed to the remote by the last upload() (blobs and manifest).
  // Ask on the thread that calls upload(), right after it: a later call
  // there (forgetPartitions) changes it.
  virtual uint64_t lastUploadBytes() const = 0;
  // Blobs holding the key lists of live records rather than state (a manifest
  // or partition record too large for one record), hash -> size: the last
  // upload's manifest's, and those of the partition records sent since start
  // and not forgotten. The records need them until replaced, so the caller
  // keeps them among the blobs it never deletes.
  virtual std::map<std::string, uint64_t> lastRecordBlobs() const = 0;
};

}  // namespace tidemark::store
