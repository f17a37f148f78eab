#pragma once

// Where checkpoints are replicated so that a pod rescheduled onto an empty
// disk gets its state back (Samza's remote checkpoint/state backend). The
// first implementation is a compacted Kafka topic (sidecar/kafka/
// kafka_remote_backend.h); the records are specified in docs/store-format.md.
//
// Contract:
// - Calls block and run on a worker thread, never on an event loop.
// - upload() sends the blobs first and the manifest last, and returns OK only
//   once the remote acknowledged every record: a remote manifest never points
//   at a blob that is not there. A failed upload may have sent some blobs;
//   nothing else is assumed about them.
// - forget() deletes blobs (Kafka: tombstones). Callers forget only blobs no
//   uploaded manifest references.
// - read() returns this instance's newest manifest and the blobs on the
//   remote; records it does not understand are skipped, not fatal.
// - Errors are Status values (Unavailable while the remote cannot be reached).

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/checkpoint_store.h"

namespace tidemark::store {

// What read() found for this instance.
struct RemoteSnapshot {
  std::optional<Manifest> latest;
  // Every blob with all its chunks on the remote, by SHA-256.
  std::map<std::string, std::string> blobs;
  uint64_t bytes_read = 0;  // everything consumed, for the restore log and metric
};

class RemoteBackend {
 public:
  virtual ~RemoteBackend() = default;

  // Uploads the blobs listed in `blobs_to_send` (the caller knows the rest
  // are on the remote already), then `manifest`.
  virtual Status upload(const Manifest& manifest, const std::vector<std::string>& blobs_to_send,
                        const BlobSource& blobs) = 0;
  // Deletes these blobs from the remote. `sizes`: each blob's size, which
  // says how many chunks it has.
  virtual Status forget(const std::map<std::string, uint64_t>& sizes) = 0;
  virtual StatusOr<RemoteSnapshot> read() = 0;
  // Bytes handed to the remote by the last upload() (blobs and manifest).
  virtual uint64_t lastUploadBytes() const = 0;
};

}  // namespace tidemark::store
