#pragma once

// A map from string keys to values, in key order, whose copies are cheap
// snapshots: entries live in sorted chunks of at most kChunkEntries, shared
// between copies until one of them changes. Copying costs a pointer per chunk,
// not an entry; changing a key copies at most the one chunk that holds it, and
// only while another copy still shares that chunk.
//
// Why: a checkpoint persists a consistent view of the whole state, taken on
// the event loop and written by the store worker. A deep copy of a state of
// 100,000 keys held the loop (and every proxied connection) for tens of
// milliseconds per checkpoint; a snapshot of this map costs well under one.
//
// Threads: a shared chunk is never changed, so a copy may be read on any
// thread while the original keeps changing. Whether a chunk is shared is read
// from its reference count, which is exact only if every copy is created and
// destroyed on the thread that changes the map; readers elsewhere use a copy
// they do not own (a pointer or reference to one kept alive on that thread).

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tidemark {

template <typename V>
class SnapshotMap {
 public:
  using key_type = std::string;
  using mapped_type = V;
  using value_type = std::pair<std::string, V>;
  static constexpr size_t kChunkEntries = 256;

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = SnapshotMap::value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type*;
    using reference = const value_type&;

    const_iterator() = default;
    reference operator*() const { return (*map_->chunks_[chunk_])[index_]; }
    pointer operator->() const { return &**this; }
    const_iterator& operator++() {
      if (++index_ == map_->chunks_[chunk_]->size()) {
        ++chunk_;
        index_ = 0;
      }
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator before = *this;
      ++*this;
      return before;
    }
    bool operator==(const const_iterator& o) const {
      return chunk_ == o.chunk_ && index_ == o.index_;
    }

   private:
    friend class SnapshotMap;
    const_iterator(const SnapshotMap* map, size_t chunk, size_t index)
        : map_(map), chunk_(chunk), index_(index) {}
    const SnapshotMap* map_ = nullptr;
    size_t chunk_ = 0;
    size_t index_ = 0;
  };
  using iterator = const_iterator;  // entries change only through the map

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const_iterator begin() const { return {this, 0, 0}; }
  const_iterator end() const { return {this, chunks_.size(), 0}; }

  const_iterator lower_bound(const std::string& key) const {
    const size_t c = chunkFor(key);
    if (c == chunks_.size()) return end();
    const Chunk& chunk = *chunks_[c];
    return {this, c, static_cast<size_t>(lowerIn(chunk, key) - chunk.begin())};
  }
  const_iterator find(const std::string& key) const {
    const_iterator it = lower_bound(key);
    return it != end() && it->first == key ? it : end();
  }
  size_t count(const std::string& key) const { return find(key) != end() ? 1 : 0; }

  // The value of `key`, to change in place; null if absent.
  V* findMutable(const std::string& key) {
    const size_t c = chunkFor(key);
    if (c == chunks_.size()) return nullptr;
    auto at = lowerIn(*chunks_[c], key);
    if (at == chunks_[c]->end() || at->first != key) return nullptr;
    const size_t i = static_cast<size_t>(at - chunks_[c]->begin());
    return &(*own(c))[i].second;
  }

  // Inserts `key`, or replaces its value.
  void set(const std::string& key, V value) {
    if (chunks_.empty()) {
      chunks_.push_back(std::make_shared<Chunk>());
      chunks_.back()->emplace_back(key, std::move(value));
      size_ = 1;
      return;
    }
    const size_t c = std::min(chunkFor(key), chunks_.size() - 1);
    auto at = lowerIn(*chunks_[c], key);
    const size_t i = static_cast<size_t>(at - chunks_[c]->begin());
    if (at != chunks_[c]->end() && at->first == key) {
      (*own(c))[i].second = std::move(value);
      return;
    }
    const bool appending = c + 1 == chunks_.size() && i == chunks_[c]->size();
    if (appending && chunks_[c]->size() >= kChunkEntries) {
      // Keys arriving in order (a restore) fill whole chunks.
      chunks_.push_back(std::make_shared<Chunk>());
      chunks_.back()->emplace_back(key, std::move(value));
    } else {
      Chunk& chunk = *own(c);
      chunk.emplace(chunk.begin() + static_cast<std::ptrdiff_t>(i), key, std::move(value));
      if (chunk.size() > kChunkEntries) split(c);
    }
    ++size_;
  }

  size_t erase(const std::string& key) {
    const size_t c = chunkFor(key);
    if (c == chunks_.size()) return 0;
    auto at = lowerIn(*chunks_[c], key);
    if (at == chunks_[c]->end() || at->first != key) return 0;
    const size_t i = static_cast<size_t>(at - chunks_[c]->begin());
    Chunk& chunk = *own(c);
    chunk.erase(chunk.begin() + static_cast<std::ptrdiff_t>(i));
    --size_;
    if (chunk.empty()) {
      chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c));
    } else if (chunk.size() < kChunkEntries / 4) {
      // Deletions must not leave the map a chain of tiny chunks: a small one
      // joins a neighbour it fits into.
      if (c + 1 < chunks_.size() && chunk.size() + chunks_[c + 1]->size() <= kChunkEntries) {
        mergeIntoFirst(c);
      } else if (c > 0 && chunk.size() + chunks_[c - 1]->size() <= kChunkEntries) {
        mergeIntoFirst(c - 1);
      }
    }
    return 1;
  }

  void clear() {
    chunks_.clear();
    size_ = 0;
  }

  // Calls fn(key, value&) for every entry in key order, each chunk made the
  // map's own first.
  template <typename Fn>
  void forEachMutable(Fn&& fn) {
    for (size_t c = 0; c < chunks_.size(); ++c) {
      for (auto& [key, value] : *own(c)) fn(static_cast<const std::string&>(key), value);
    }
  }

  // How many chunks this map shares with copies of it (for tests).
  size_t sharedChunks() const {
    return static_cast<size_t>(std::count_if(chunks_.begin(), chunks_.end(),
                                             [](const auto& c) { return c.use_count() > 1; }));
  }

 private:
  using Chunk = std::vector<value_type>;

  static typename Chunk::const_iterator lowerIn(const Chunk& chunk, const std::string& key) {
    return std::lower_bound(chunk.begin(), chunk.end(), key,
                            [](const value_type& e, const std::string& k) { return e.first < k; });
  }

  // The first chunk whose last key is not below `key`: where `key` is, or
  // would go; chunks_.size() if it is above every key.
  size_t chunkFor(const std::string& key) const {
    auto it = std::partition_point(
        chunks_.begin(), chunks_.end(),
        [&](const std::shared_ptr<Chunk>& c) { return c->back().first < key; });
    return static_cast<size_t>(it - chunks_.begin());
  }

  // Chunk `c`, copied first if a snapshot shares it.
  Chunk* own(size_t c) {
    if (chunks_[c].use_count() > 1) chunks_[c] = std::make_shared<Chunk>(*chunks_[c]);
    return chunks_[c].get();
  }

  // Chunks c and c + 1 become one.
  void mergeIntoFirst(size_t c) {
    Chunk& first = *own(c);
    const Chunk& second = *chunks_[c + 1];
    first.insert(first.end(), second.begin(), second.end());
    chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c + 1));
  }

  void split(size_t c) {
    Chunk& full = *chunks_[c];
    const auto half = full.begin() + static_cast<std::ptrdiff_t>(full.size() / 2);
    auto upper =
        std::make_shared<Chunk>(std::make_move_iterator(half), std::make_move_iterator(full.end()));
    full.erase(half, full.end());
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c + 1), std::move(upper));
  }

  std::vector<std::shared_ptr<Chunk>> chunks_;
  size_t size_ = 0;
};

}  // namespace tidemark
