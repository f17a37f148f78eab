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
// without committing offsets).
//
// Where the bytes live: staged writes, and sealed ones no checkpoint holds
// yet, are always in memory. Once a checkpoint holding an entry is durable
// (durable()), its bytes are also in the local store, and the book keeps them
// only while they fit the cache budget (least recently used go first). A
// sealed entry without bytes is read from the store by whoever needs them
// (Coordinator::readState): memory grows with what changed since the last
// checkpoint and the cache, not with the whole state, and a restore reads
// only the index. Pure logic, no I/O. Loop thread only.

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol/store/checkpoint.pb.h"
#include "sidecar/base/snapshot_map.h"
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
  // The bytes, or null when only the local store holds them (a sealed entry
  // whose checkpoint is durable, outside the cache).
  Blob data;
  std::string sha256;  // raw 32 bytes; the ETag is its hex form
  std::string content_type;
  uint64_t size = 0;

  // An entry holding `bytes`.
  static StateEntry of(std::string bytes, std::string content_type);
  bool resident() const { return data != nullptr; }
};

enum class View { kSealed, kStaged };

// What a checkpoint persists: one consistent sealed view. A copy is a
// snapshot: the state's entries are shared until the book changes them (see
// SnapshotMap for which thread may create and drop copies).
struct SealedView {
  uint64_t seal = 0;  // how many seals produced this view
  std::map<PartitionId, CommittedOffset> offsets;
  SnapshotMap<StateEntry> state;
};

class StateBook {
 public:
  // `cache_bytes`: how many bytes of durable entries the book keeps in
  // memory (state.cache_bytes).
  explicit StateBook(bool seal_immediately, uint64_t cache_bytes = UINT64_MAX)
      : seal_immediately_(seal_immediately), cache_budget_(cache_bytes) {}

  // If `if_match` is given, the key's current ETag (staged view) must equal
  // it ("*": must exist); else FailedPrecondition (HTTP 409).
  Status put(const std::string& key, std::string data, std::string content_type,
             const std::optional<std::string>& if_match);
  Status remove(const std::string& key, const std::optional<std::string>& if_match);
  // The entry as `view` holds it; its bytes may be in the store only
  // (!resident()). Counts as a use of a cached entry.
  std::optional<StateEntry> get(const std::string& key, View view);
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

  // Replaces everything with a restored checkpoint (start-up, before
  // serving). Its entries may come without bytes: the store holds them.
  void restore(SealedView view);

  // A checkpoint of `view` is durable in the local store: entries the book
  // still holds unchanged may now give up their bytes (the cache decides).
  void durable(const SealedView& view);
  // The bytes of every sealed entry no durable checkpoint holds yet, by
  // SHA-256: all that a checkpoint's store can ask for, since every other
  // entry's bytes are in the store already. Costs what changed since the last
  // durable checkpoint, not a term per key.
  std::unordered_map<std::string, Blob> blobsNotDurable() const;
  // Bytes of `key` read from the store (they match `sha256`): kept in the
  // cache if the entry is unchanged, without bytes, and they fit.
  void fill(const std::string& key, const std::string& sha256, Blob bytes);
  // Bytes of durable entries held in memory (<= the budget).
  uint64_t cachedBytes() const { return cached_bytes_; }

  static std::string etag(const StateEntry& e);

 private:
  std::optional<StateEntry> current(const std::string& key) const;  // staged view
  Status checkMatch(const std::string& key, const std::optional<std::string>& if_match) const;
  // Every change of sealed_.state goes through these two, so the cache's
  // accounting follows it.
  void setSealed(const std::string& key, StateEntry entry);
  void eraseSealed(const std::string& key);
  // Cache: durable entries holding their bytes, least recently used first.
  void uncache(const std::string& key);
  void cache(const std::string& key, StateEntry& entry);
  void touch(const std::string& key);

  bool seal_immediately_;
  uint64_t cache_budget_;
  uint64_t cached_bytes_ = 0;
  std::list<std::string> lru_;
  std::unordered_map<std::string, std::list<std::string>::iterator> lru_at_;
  std::map<std::string, int32_t> generations_;
  std::map<std::string, std::optional<StateEntry>> staged_;  // nullopt: deleted
  SealedView sealed_;
  // Sealed keys whose bytes no durable checkpoint holds yet (set since the
  // last one): what durable() looks at, rather than every key. In key order,
  // the order they enter the cache in.
  std::set<std::string> not_durable_;
};

// Key rules for state keys: 1-512 bytes of [A-Za-z0-9._~:@=+-] and '/', not
// starting with '/', no empty or "." or ".." segments. A bad key is a 400.
Status validateKey(const std::string& key);

// Partition-scoped state (issue 5: state that follows partitions) lives in
// the same book under an internal key no valid key can be ('#' is not a key
// character): "#" + hex(group) + "/" + topic + "/" + partition + "/" + key.
// Staged, sealed and checkpointed like instance state; manifests record the
// partition apart (StateRef.partition), never this encoding. It is the
// store's state identity (store::scopedIdentity), so the book's key order is
// the order the store lists a manifest's state in.
std::string scopedKey(const PartitionId& partition, const std::string& key);
// The partition and key of an internal key; nullopt for instance-scoped keys.
std::optional<std::pair<PartitionId, std::string>> parseScopedKey(const std::string& internal);
bool isScopedKey(const std::string& internal);
// An internal key as the API names it: the key, and the partition when scoped.
std::string describeKey(const std::string& internal);

}  // namespace tidemark::checkpoint
