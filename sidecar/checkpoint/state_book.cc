#include "sidecar/checkpoint/state_book.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "store/checkpoint_store.h"

namespace tidemark::checkpoint {

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
  return "#" + toHex(p.group) + "/" + p.topic + "/" + std::to_string(p.partition) + "/" + key;
}

bool isScopedKey(const std::string& internal) { return !internal.empty() && internal[0] == '#'; }

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

Status StateBook::put(const std::string& key, std::string data, std::string content_type,
                      const std::optional<std::string>& if_match) {
  TM_RETURN_IF_ERROR(checkMatch(key, if_match));
  StateEntry e;
  e.content_type = std::move(content_type);
  e.sha256 = store::sha256(data);
  e.data = std::make_shared<const std::string>(std::move(data));
  if (seal_immediately_) {
    sealed_.state[key] = std::move(e);
    ++sealed_.seal;
  } else {
    staged_[key] = std::move(e);
  }
  return Status::ok();
}

Status StateBook::remove(const std::string& key, const std::optional<std::string>& if_match) {
  TM_RETURN_IF_ERROR(checkMatch(key, if_match));
  if (!current(key)) return notFound("no state " + key);
  if (seal_immediately_) {
    sealed_.state.erase(key);
    ++sealed_.seal;
  } else {
    staged_[key] = std::nullopt;
  }
  return Status::ok();
}

std::optional<StateEntry> StateBook::get(const std::string& key, View view) const {
  if (view == View::kStaged) return current(key);
  auto it = sealed_.state.find(key);
  if (it == sealed_.state.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, StateEntry>> StateBook::list(const std::string& prefix,
                                                                View view) const {
  std::map<std::string, StateEntry> merged;
  for (auto it = sealed_.state.lower_bound(prefix);
       it != sealed_.state.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    merged.insert(*it);
  }
  if (view == View::kStaged) {
    for (auto it = staged_.lower_bound(prefix);
         it != staged_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
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
      sealed_.state[it->first] = std::move(*it->second);
    } else {
      sealed_.state.erase(it->first);
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

namespace {
bool ofPartition(const std::string& key, const PartitionId& id) {
  auto scoped = parseScopedKey(key);
  return scoped && scoped->first == id;
}
}  // namespace

void StateBook::adopt(const PartitionId& id, std::optional<CommittedOffset> offset,
                      std::map<std::string, StateEntry> state) {
  std::erase_if(sealed_.state, [&](const auto& e) { return ofPartition(e.first, id); });
  std::erase_if(staged_, [&](const auto& e) { return ofPartition(e.first, id); });
  if (offset) {
    sealed_.offsets[id] = *offset;
  } else {
    sealed_.offsets.erase(id);
  }
  for (auto& [key, entry] : state) sealed_.state[scopedKey(id, key)] = std::move(entry);
  ++sealed_.seal;
}

void StateBook::dropStaged(const PartitionId& id) {
  std::erase_if(staged_, [&](const auto& e) { return ofPartition(e.first, id); });
}

bool StateBook::holds(const PartitionId& id) const {
  if (sealed_.offsets.count(id)) return true;
  const std::string prefix = scopedKey(id, "");
  auto it = sealed_.state.lower_bound(prefix);
  return it != sealed_.state.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

void StateBook::restore(SealedView view) {
  staged_.clear();
  sealed_ = std::move(view);
}

}  // namespace tidemark::checkpoint
