#include "sidecar/checkpoint/state_book.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "store/checkpoint_store.h"
#include "store/manifest_delta.h"

namespace tidemark::checkpoint {
namespace {

// The entries of `m` whose key starts with `prefix`: keys sort, so they are
// adjacent (a partition's scoped keys all start with scopedKey(id, "")).
template <typename Map>
auto keysWithPrefix(Map& m, const std::string& prefix) {
  auto first = m.lower_bound(prefix);
  auto last = first;
  while (last != m.end() && last->first.starts_with(prefix)) ++last;
  return std::make_pair(first, last);
}

}  // namespace

Status validateKey(const std::string& key) {
  if (key.empty() || key.size() > 512) return invalidArgument("key must be 1-512 bytes");
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '~' || c == ':' || c == '@' || c == '=' ||
                    c == '+' || c == '-' || c == '/';
    if (!ok) return invalidArgument("key may contain only A-Z a-z 0-9 . _ ~ : @ = + - /");
  }
  size_t start = 0;
  while (start <= key.size()) {
    size_t slash = key.find('/', start);
    std::string seg =
        key.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") {
      return invalidArgument("key segments must not be empty, '.' or '..'");
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return Status::ok();
}

std::string scopedKey(const PartitionId& p, const std::string& key) {
  return store::scopedIdentity(p.group, p.topic, p.partition, key);
}

bool isScopedKey(const std::string& internal) { return !internal.empty() && internal[0] == '#'; }

std::string describeKey(const std::string& internal) {
  auto scoped = parseScopedKey(internal);
  if (!scoped) return internal;
  const PartitionId& p = scoped->first;
  return scoped->second + " of group " + p.group + ", " + p.topic + "/" +
         std::to_string(p.partition);
}

std::optional<std::pair<PartitionId, std::string>> parseScopedKey(const std::string& internal) {
  if (!isScopedKey(internal)) return std::nullopt;
  const size_t a = internal.find('/', 1);
  const size_t b = a == std::string::npos ? a : internal.find('/', a + 1);
  const size_t c = b == std::string::npos ? b : internal.find('/', b + 1);
  if (c == std::string::npos) return std::nullopt;
  // Our own encoding, so it parses; from_chars all the same: no exceptions.
  const std::string_view hex = std::string_view(internal).substr(1, a - 1);
  std::string group;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    unsigned byte = 0;
    std::from_chars(hex.data() + i, hex.data() + i + 2, byte, 16);
    group.push_back(static_cast<char>(byte));
  }
  int32_t partition = 0;
  std::from_chars(internal.data() + b + 1, internal.data() + c, partition);
  PartitionId id{group, internal.substr(a + 1, b - a - 1), partition};
  return std::make_pair(std::move(id), internal.substr(c + 1));
}

std::string StateBook::etag(const StateEntry& e) { return "\"" + store::toHex(e.sha256) + "\""; }

std::optional<StateEntry> StateBook::current(const std::string& key) const {
  if (auto it = staged_.find(key); it != staged_.end()) return it->second;
  if (auto it = sealed_.state.find(key); it != sealed_.state.end()) return it->second;
  return std::nullopt;
}

Status StateBook::checkMatch(const std::string& key,
                             const std::optional<std::string>& if_match) const {
  if (!if_match) return Status::ok();
  auto cur = current(key);
  if (*if_match == "*") {
    if (!cur) return failedPrecondition("If-Match: * but " + key + " does not exist");
    return Status::ok();
  }
  if (!cur || etag(*cur) != *if_match) {
    return failedPrecondition("If-Match " + *if_match + " does not match the current ETag of " +
                              key);
  }
  return Status::ok();
}

StateEntry StateEntry::of(std::string bytes, std::string content_type) {
  StateEntry e;
  e.sha256 = store::sha256(bytes);
  e.size = bytes.size();
  e.content_type = std::move(content_type);
  e.data = std::make_shared<const std::string>(std::move(bytes));
  return e;
}

Status StateBook::put(const std::string& key, std::string data, std::string content_type,
                      const std::optional<std::string>& if_match) {
  TM_RETURN_IF_ERROR(checkMatch(key, if_match));
  StateEntry e = StateEntry::of(std::move(data), std::move(content_type));
  if (seal_immediately_) {
    setSealed(key, std::move(e));
    ++sealed_.seal;
  } else {
    staged_[key] = std::move(e);
  }
  return Status::ok();
}

Status StateBook::remove(const std::string& key, const std::optional<std::string>& if_match) {
  TM_RETURN_IF_ERROR(checkMatch(key, if_match));
  if (!current(key)) return notFound("no state " + describeKey(key));
  if (seal_immediately_) {
    eraseSealed(key);
    ++sealed_.seal;
  } else {
    staged_[key] = std::nullopt;
  }
  return Status::ok();
}

std::optional<StateEntry> StateBook::get(const std::string& key, View view) {
  touch(key);
  if (view == View::kStaged) return current(key);
  auto it = sealed_.state.find(key);
  if (it == sealed_.state.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, StateEntry>> StateBook::list(const std::string& prefix,
                                                                View view) const {
  auto [first, last] = keysWithPrefix(sealed_.state, prefix);
  std::map<std::string, StateEntry> merged(first, last);
  if (view == View::kStaged) {
    auto [from, to] = keysWithPrefix(staged_, prefix);
    for (auto it = from; it != to; ++it) {
      if (it->second) {
        merged[it->first] = *it->second;
      } else {
        merged.erase(it->first);
      }
    }
  }
  return {merged.begin(), merged.end()};
}

uint64_t StateBook::seal(const std::map<PartitionId, CommittedOffset>& offsets) {
  for (auto it = staged_.begin(); it != staged_.end();) {
    auto scoped = parseScopedKey(it->first);
    if (scoped && !offsets.count(scoped->first)) {
      ++it;  // waits for its own partition's commit
      continue;
    }
    if (it->second) {
      setSealed(it->first, std::move(*it->second));
    } else {
      eraseSealed(it->first);
    }
    it = staged_.erase(it);
  }
  uint64_t processed = 0;
  for (const auto& [id, committed] : offsets) {
    auto it = sealed_.offsets.find(id);
    if (it != sealed_.offsets.end() && committed.offset > it->second.offset) {
      processed += static_cast<uint64_t>(committed.offset - it->second.offset);
    }
    CommittedOffset& sealed = sealed_.offsets[id];
    sealed = committed;
    if (sealed.generation < 0) sealed.generation = generation(id.group);
  }
  ++sealed_.seal;
  return processed;
}

CommittedOffset committedOffset(const store::v1::PartitionOffset& o) {
  return {o.offset(), o.leader_epoch(),
          o.has_metadata() ? std::optional<std::string>(o.metadata()) : std::nullopt,
          o.has_generation() ? o.generation() : -1};
}

int32_t StateBook::generation(const std::string& group) const {
  auto it = generations_.find(group);
  return it == generations_.end() ? -1 : it->second;
}

void StateBook::adopt(const PartitionId& id, std::optional<CommittedOffset> offset,
                      std::map<std::string, StateEntry> state) {
  const std::string prefix = scopedKey(id, "");
  std::vector<std::string> gone;
  for (auto [it, last] = keysWithPrefix(sealed_.state, prefix); it != last; ++it) {
    gone.push_back(it->first);  // collected first: erasing moves entries between chunks
  }
  for (const auto& key : gone) eraseSealed(key);
  dropStaged(id);
  if (offset) {
    sealed_.offsets[id] = *offset;
  } else {
    sealed_.offsets.erase(id);
  }
  for (auto& [key, entry] : state) setSealed(scopedKey(id, key), std::move(entry));
  ++sealed_.seal;
}

void StateBook::dropStaged(const PartitionId& id) {
  auto [first, last] = keysWithPrefix(staged_, scopedKey(id, ""));
  staged_.erase(first, last);
}

bool StateBook::holds(const PartitionId& id) const {
  if (sealed_.offsets.count(id)) return true;
  auto [first, last] = keysWithPrefix(sealed_.state, scopedKey(id, ""));
  return first != last;
}

void StateBook::restore(SealedView view) {
  staged_.clear();
  lru_.clear();
  lru_at_.clear();
  cached_bytes_ = 0;
  not_durable_.clear();
  sealed_ = std::move(view);
  sealed_.state.forEachMutable([this](const std::string& key, StateEntry& entry) {
    if (entry.resident()) cache(key, entry);  // restored: durable already
  });
}

// Looks only at the keys sealed since the last durable checkpoint: a
// checkpoint costs the book what changed, not a term per key.
void StateBook::durable(const SealedView& view) {
  for (auto k = not_durable_.begin(); k != not_durable_.end();) {
    auto written = view.state.find(*k);
    auto it = sealed_.state.find(*k);
    // Changed since the view was taken: its new bytes are not in the store.
    if (written == view.state.end() || it == sealed_.state.end() ||
        it->second.sha256 != written->second.sha256) {
      ++k;
      continue;
    }
    if (it->second.resident() && !lru_at_.count(*k)) cache(*k, *sealed_.state.findMutable(*k));
    k = not_durable_.erase(k);
  }
}

std::unordered_map<std::string, Blob> StateBook::blobsNotDurable() const {
  std::unordered_map<std::string, Blob> blobs;
  for (const auto& key : not_durable_) {
    auto it = sealed_.state.find(key);
    if (it != sealed_.state.end() && it->second.resident()) {
      blobs.emplace(it->second.sha256, it->second.data);
    }
  }
  return blobs;
}

void StateBook::fill(const std::string& key, const std::string& sha256, Blob bytes) {
  auto it = sealed_.state.find(key);
  if (it == sealed_.state.end() || it->second.sha256 != sha256 || it->second.resident()) return;
  StateEntry& entry = *sealed_.state.findMutable(key);  // a snapshot may share it
  entry.data = std::move(bytes);
  cache(key, entry);
}

void StateBook::setSealed(const std::string& key, StateEntry entry) {
  uncache(key);
  if (entry.resident()) {
    not_durable_.insert(key);
  } else {
    not_durable_.erase(key);
  }
  sealed_.state.set(key, std::move(entry));
}

void StateBook::eraseSealed(const std::string& key) {
  uncache(key);
  not_durable_.erase(key);
  sealed_.state.erase(key);
}

void StateBook::uncache(const std::string& key) {
  auto at = lru_at_.find(key);
  if (at == lru_at_.end()) return;
  cached_bytes_ -= sealed_.state.find(key)->second.size;
  lru_.erase(at->second);
  lru_at_.erase(at);
}

// `entry` (sealed_.state's, under `key`) is durable and holds its bytes:
// keeps them, evicting the least recently used, or drops them if they cannot fit.
void StateBook::cache(const std::string& key, StateEntry& entry) {
  if (entry.size > cache_budget_) {
    entry.data.reset();
    return;
  }
  while (cached_bytes_ + entry.size > cache_budget_) {
    const std::string& oldest = lru_.front();
    StateEntry& evicted = *sealed_.state.findMutable(oldest);
    evicted.data.reset();
    cached_bytes_ -= evicted.size;
    lru_at_.erase(oldest);
    lru_.pop_front();
  }
  lru_at_[key] = lru_.insert(lru_.end(), key);
  cached_bytes_ += entry.size;
}

void StateBook::touch(const std::string& key) {
  if (auto at = lru_at_.find(key); at != lru_at_.end()) {
    lru_.splice(lru_.end(), lru_, at->second);
  }
}

}  // namespace tidemark::checkpoint
