#include "store/manifest_delta.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "sidecar/base/digest.h"

namespace tidemark::store {
std::string scopedIdentity(std::string_view group, std::string_view topic, int32_t partition,
                           std::string_view key) {
  std::string id = "#" + toHex(group);
  id.append("/").append(topic).append("/").append(std::to_string(partition)).append("/");
  id.append(key);
  return id;
}

std::string stateIdentity(const StateRef& ref) {
  if (!ref.has_partition()) return ref.key();
  const auto& p = ref.partition();
  return scopedIdentity(p.group(), p.topic(), p.partition(), ref.key());
}

bool sameIdentity(const StateRef& a, const StateRef& b) {
  if (a.key() != b.key() || a.has_partition() != b.has_partition()) return false;
  if (!a.has_partition()) return true;
  const auto &p = a.partition(), &q = b.partition();
  return p.partition() == q.partition() && p.topic() == q.topic() && p.group() == q.group();
}

bool sameContent(const StateRef& a, const StateRef& b) {
  return a.sha256() == b.sha256() && a.size() == b.size() && a.content_type() == b.content_type();
}

void copyHeader(const Manifest& from, Manifest& to) {
  to.set_format_version(from.format_version());
  to.set_id(from.id());
  to.set_created_at_ms(from.created_at_ms());
  to.set_trigger(from.trigger());
  to.set_job_id(from.job_id());
  *to.mutable_offsets() = from.offsets();
  to.set_instance_id(from.instance_id());
  to.set_writer_epoch(from.writer_epoch());
}

Manifest headerOf(const Manifest& from) {
  Manifest header;
  copyHeader(from, header);
  return header;
}

StatusOr<StateDiff> diffState(const Manifest& before, const Manifest& after) {
  StateDiff diff;
  const int n = after.state_size();
  for (const auto& ref : after.state()) diff.after_bytes += ref.size();
  if (before.state_size() == n) {
    diff.aligned = true;
    for (int i = 0; i < n; ++i) {
      const StateRef &b = before.state(i), &a = after.state(i);
      if (!sameIdentity(b, a)) {
        diff.aligned = false;
        diff.changes.clear();
        break;
      }
      if (!sameContent(b, a)) diff.changes.push_back({&b, &a, i});
    }
    if (diff.aligned) return diff;
  }
  std::unordered_map<std::string, const StateRef*> old;
  old.reserve(static_cast<size_t>(before.state_size()));
  for (const auto& ref : before.state()) old.emplace(stateIdentity(ref), &ref);
  std::unordered_map<std::string, int> seen;
  seen.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const StateRef& a = after.state(i);
    std::string id = stateIdentity(a);
    auto found = old.find(id);
    if (!seen.emplace(id, i).second) {
      return invalidArgument("manifest " + std::to_string(after.id()) + " lists state key '" +
                             a.key() + "' twice");
    }
    if (found == old.end()) {
      diff.changes.push_back({nullptr, &a, i});
      continue;
    }
    if (!sameContent(*found->second, a)) diff.changes.push_back({found->second, &a, i});
  }
  std::vector<std::pair<std::string, const StateRef*>> gone;
  for (const auto& [id, ref] : old) {
    if (!seen.count(id)) gone.emplace_back(id, ref);
  }
  std::sort(gone.begin(), gone.end());  // a delta's bytes do not depend on hashing
  for (const auto& [id, ref] : gone) diff.changes.push_back({ref, nullptr, -1});
  return diff;
}

ManifestDelta toDelta(const Manifest& after, const StateDiff& diff) {
  ManifestDelta delta;
  copyHeader(after, *delta.mutable_header());
  for (const StateChange& c : diff.changes) {
    if (c.after != nullptr) {
      *delta.add_changed() = *c.after;
      continue;
    }
    StateRef* removed = delta.add_removed();
    removed->set_key(c.before->key());
    if (c.before->has_partition()) *removed->mutable_partition() = c.before->partition();
  }
  return delta;
}

void StateView::reset(const Manifest& full, const OnChange& on_change) {
  if (on_change) {
    for (const auto& ref : full.state()) on_change(nullptr, &ref);
    for (const auto& [id, ref] : refs_) on_change(&ref, nullptr);
  }
  refs_.clear();
  for (const auto& ref : full.state()) refs_[stateIdentity(ref)] = ref;
}

Status StateView::apply(const ManifestDelta& delta, const OnChange& on_change) {
  // Every new reference before any release, as for a whole manifest: a blob
  // that moves from one key to another is never seen unreferenced.
  if (on_change) {
    for (const auto& ref : delta.changed()) on_change(nullptr, &ref);
  }
  for (const auto& ref : delta.changed()) {
    auto [slot, added] = refs_.try_emplace(stateIdentity(ref));
    if (on_change && !added) on_change(&slot->second, nullptr);
    slot->second = ref;
  }
  for (const auto& ref : delta.removed()) {
    auto it = refs_.find(stateIdentity(ref));
    if (it == refs_.end()) {  // a damaged chain; the view is not used again
      return dataLoss("checkpoint " + std::to_string(delta.header().id()) + " removes state key '" +
                      ref.key() + "', which the checkpoint before it does not hold");
    }
    if (on_change) on_change(&it->second, nullptr);
    refs_.erase(it);
  }
  return Status::ok();
}

Manifest StateView::manifest(const Manifest& header) const {
  Manifest m = header;
  m.clear_state();
  m.mutable_state()->Reserve(static_cast<int>(refs_.size()));
  for (const auto& [id, ref] : refs_) *m.add_state() = ref;
  return m;
}

}  // namespace tidemark::store
