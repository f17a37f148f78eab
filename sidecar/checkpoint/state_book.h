#pragma once

// The application's state and processed offsets as the sidecar holds them
// between checkpoints, after Samza: writes are *staged*; the application's
// next offset commit *seals* the staged writes together with those offsets;
// a checkpoint persists only the sealed view. So state and offsets always
// agree in what a checkpoint holds, and in what a restarted application sees.
//
//   put/delete ─▶ staged ──seal(offsets)──▶ sealed ──checkpoint──▶ store
//
// With seal_on=immediate, writes go straight to sealed (apps that keep state
// without committing offsets). Pure logic, no I/O. Loop thread only.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/store/checkpoint.pb.h"
#include "sidecar/base/status.h"

namespace tidemark::checkpoint {

struct PartitionId {
  std::string group;
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const PartitionId&) const = default;
};

// What the application committed for a partition, verbatim.
struct CommittedOffset {
  int64_t offset = 0;  // Kafka's "next offset to read"
  int32_t leader_epoch = -1;
  std::optional<std::string> metadata;
  // The group generation (KIP-848: member epoch) it was committed under; -1
  // unknown. Not part of the offset's identity for equality.
  int32_t generation = -1;
  bool operator==(const CommittedOffset& o) const {
    return offset == o.offset && leader_epoch == o.leader_epoch && metadata == o.metadata;
  }
};

// A checkpoint's record of a committed offset, as the book holds it.
CommittedOffset committedOffset(const store::v1::PartitionOffset& o);

using Blob = std::shared_ptr<const std::string>;

struct StateEntry {
  Blob data;
  std::string sha256;  // raw 32 bytes; the ETag is its hex form
  std::string content_type;
};

enum class View { kSealed, kStaged };

// What a checkpoint persists: one consistent sealed view.
struct SealedView {
  uint64_t seal = 0;  // how many seals produced this view
  std::map<PartitionId, CommittedOffset> offsets;
  std::map<std::string, StateEntry> state;
};

class StateBook {
 public:
  explicit StateBook(bool seal_immediately) : seal_immediately_(seal_immediately) {}

  // If `if_match` is given, the key's current ETag (staged view) must equal
  // it ("*": must exist); else FailedPrecondition (HTTP 409).
  Status put(const std::string& key, std::string data, std::string content_type,
             const std::optional<std::string>& if_match);
  Status remove(const std::string& key, const std::optional<std::string>& if_match);
  std::optional<StateEntry> get(const std::string& key, View view) const;
  std::vector<std::pair<std::string, StateEntry>> list(const std::string& prefix, View view) const;

  // Seals the staged writes together with `offsets` (merged into the sealed
  // offsets): instance-scoped writes always, a partition-scoped write only
  // when `offsets` holds its partition (Samza: a partition's state and its
  // offset are sealed together; another partition's commit never seals it). Returns the messages
  // processed since the previous seal, estimated from offset deltas (a partition seen first counts
  // 0). An offset of unknown generation takes its group's (setGeneration).
  uint64_t seal(const std::map<PartitionId, CommittedOffset>& offsets);

  // The generation the application's member holds `group`'s partitions in.
  void setGeneration(const std::string& group, int32_t generation) {
    generations_[group] = generation;
  }
  int32_t generation(const std::string& group) const;

  // Replaces everything the book holds of one partition (sealed offset and
  // partition-scoped state, both views) with a checkpoint of it taken
  // elsewhere: the partition came to this instance (state follows
  // partitions). Counts as a seal.
  void adopt(const PartitionId& id, std::optional<CommittedOffset> offset,
             std::map<std::string, StateEntry> state);
  // Forgets the partition's staged (never sealed) writes: they came from a
  // member that no longer holds it.
  void dropStaged(const PartitionId& id);
  // Whether the book holds anything of the partition (offset or state).
  bool holds(const PartitionId& id) const;

  const SealedView& sealed() const { return sealed_; }
  bool hasStaged() const { return !staged_.empty(); }

  // Replaces everything with a restored checkpoint (start-up, before serving).
  void restore(SealedView view);

  static std::string etag(const StateEntry& e);

 private:
  std::optional<StateEntry> current(const std::string& key) const;  // staged view
  Status checkMatch(const std::string& key, const std::optional<std::string>& if_match) const;

  bool seal_immediately_;
  std::map<std::string, int32_t> generations_;
  std::map<std::string, std::optional<StateEntry>> staged_;  // nullopt: deleted
  SealedView sealed_;
};

// Key rules for state keys: 1-512 bytes of [A-Za-z0-9._~:@=+-] and '/', not
// starting with '/', no empty or "." or ".." segments. A bad key is a 400.
Status validateKey(const std::string& key);

// Partition-scoped state (issue 5: state that follows partitions) lives in
// the same book under an internal key no valid key can be ('#' is not a key
// character): "#" + hex(group) + "/" + topic + "/" + partition + "/" + key.
// Staged, sealed and checkpointed like instance state; manifests record the
// partition apart (StateRef.partition), never this encoding.
std::string scopedKey(const PartitionId& partition, const std::string& key);
// The partition and key of an internal key; nullopt for instance-scoped keys.
std::optional<std::pair<PartitionId, std::string>> parseScopedKey(const std::string& internal);
bool isScopedKey(const std::string& internal);

}  // namespace tidemark::checkpoint
