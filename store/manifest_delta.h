#pragma once

// Manifests as changes (store format 4, docs/store-format.md): which state
// keys differ between two manifests, and a manifest rebuilt from a whole one
// and the changes after it. Pure functions over the proto messages; no I/O.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/store/checkpoint.pb.h"
#include "sidecar/base/status.h"

namespace tidemark::store {

using Manifest = v1::Manifest;
using ManifestDelta = v1::ManifestDelta;
using StateRef = v1::StateRef;

// What makes two StateRefs the same state key: the key and, for
// partition-scoped state, its partition. As one string: the key itself for
// the instance's own state; "#" + hex(group) + "/" + topic + "/" + partition
// + "/" + key for partition-scoped state ('#' is not a key character). A
// rebuilt manifest lists its state in this string's byte order, which is the
// order the sidecar keeps its keys in (checkpoint::scopedKey is this).
std::string stateIdentity(const StateRef& ref);
std::string scopedIdentity(std::string_view group, std::string_view topic, int32_t partition,
                           std::string_view key);
bool sameIdentity(const StateRef& a, const StateRef& b);
// Whether two refs of one identity hold the same: blob, size, content type.
bool sameContent(const StateRef& a, const StateRef& b);

// Sets every field of `to` but its state to `from`'s.
void copyHeader(const Manifest& from, Manifest& to);
Manifest headerOf(const Manifest& from);

// One state key that differs. before == nullptr: added; after == nullptr:
// removed. Both point into the manifests given to diffState.
struct StateChange {
  const StateRef* before = nullptr;
  const StateRef* after = nullptr;
  int after_index = -1;  // in `after`, when after != nullptr
};

struct StateDiff {
  std::vector<StateChange> changes;
  // Both list the same keys in the same order (two checkpoints in a row
  // usually do): then a change's after_index is its index in `before` too.
  bool aligned = false;
  uint64_t after_bytes = 0;  // the sizes of every blob `after` references
};

// The keys whose content differs between `before` and `after`. Costs a
// comparison per key when aligned, a hash lookup per key otherwise.
// InvalidArgument when `after` lists a key twice.
StatusOr<StateDiff> diffState(const Manifest& before, const Manifest& after);

// `after`'s header and the diff's changes.
ManifestDelta toDelta(const Manifest& after, const StateDiff& diff);

// A manifest's state keys by identity, which deltas change in order.
class StateView {
 public:
  // Called for each key before it changes: before == nullptr when added,
  // after == nullptr when removed.
  using OnChange = std::function<void(const StateRef* before, const StateRef* after)>;

  // Replaces the whole state by `full`'s.
  void reset(const Manifest& full, const OnChange& on_change = nullptr);
  // DataLoss when the delta removes a key the view does not hold.
  Status apply(const ManifestDelta& delta, const OnChange& on_change = nullptr);
  // `header` with this state, in identity order.
  Manifest manifest(const Manifest& header) const;

 private:
  std::map<std::string, StateRef> refs_;
};

}  // namespace tidemark::store
