#include "sidecar/base/snapshot_map.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace tidemark {
namespace {

using Map = SnapshotMap<int>;

std::map<std::string, int> asStdMap(const Map& m) {
  std::map<std::string, int> out;
  for (const auto& [k, v] : m) {
    EXPECT_TRUE(out.empty() || out.rbegin()->first < k) << "out of order at " << k;
    out[k] = v;
  }
  return out;
}

std::string key(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%06d", i);
  return buf;
}

// The model: every operation applied to a std::map too; snapshots taken along
// the way must keep the contents they were taken with.
TEST(SnapshotMapTest, ShouldBehaveAsASortedMapAndKeepEverySnapshotAsItWasTaken) {
  std::mt19937 rng(7);
  Map map;
  std::map<std::string, int> model;
  std::vector<std::pair<Map, std::map<std::string, int>>> snapshots;
  for (int step = 0; step < 20000; ++step) {
    const std::string k = key(static_cast<int>(rng() % 3000));
    switch (rng() % 10) {
      case 0:
      case 1:
        EXPECT_EQ(map.erase(k), model.erase(k)) << k;
        break;
      case 2:
        if (int* v = map.findMutable(k)) {
          ASSERT_TRUE(model.count(k));
          *v += 1;
          model[k] += 1;
        } else {
          EXPECT_FALSE(model.count(k));
        }
        break;
      default:
        map.set(k, step);
        model[k] = step;
    }
    ASSERT_EQ(map.size(), model.size());
    if (step % 1000 == 0) snapshots.emplace_back(map, model);
    if (step % 5000 == 0)
      snapshots.erase(snapshots.begin(), snapshots.begin() + snapshots.size() / 2);
  }
  EXPECT_EQ(asStdMap(map), model);
  for (const auto& [snapshot, then] : snapshots) EXPECT_EQ(asStdMap(snapshot), then);
}

TEST(SnapshotMapTest, ShouldFindLookUpAndBoundKeysAsAStdMapWould) {
  Map map;
  for (int i = 0; i < 1000; i += 2) map.set(key(i), i);  // in order: whole chunks
  EXPECT_EQ(map.size(), 500u);
  EXPECT_EQ(map.find(key(10))->second, 10);
  EXPECT_EQ(map.find(key(11)), map.end());
  EXPECT_EQ(map.lower_bound(key(11))->first, key(12));
  EXPECT_EQ(map.lower_bound(key(999)), map.end());
  EXPECT_EQ(map.lower_bound(""), map.begin());
  EXPECT_EQ(map.count(key(998)), 1u);
  EXPECT_EQ(std::distance(map.lower_bound(key(900)), map.end()), 50);
  map.clear();
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.begin(), map.end());
}

// What makes a checkpoint's snapshot cheap: a copy shares every chunk, and a
// change copies only the chunk it touches.
TEST(SnapshotMapTest, ShouldCopyOnlyTheChunkAChangeTouchesWhileASnapshotSharesIt) {
  Map map;
  for (int i = 0; i < 100000; ++i) map.set(key(i), i);
  const size_t chunks = map.sharedChunks() + 0;  // none shared yet
  EXPECT_EQ(chunks, 0u);
  Map snapshot = map;
  const size_t all = snapshot.sharedChunks();
  EXPECT_EQ(all, (100000 + Map::kChunkEntries - 1) / Map::kChunkEntries);
  map.set(key(500), -1);
  *map.findMutable(key(70000)) = -2;
  map.erase(key(99999));
  EXPECT_EQ(map.sharedChunks(), all - 3);
  EXPECT_EQ(snapshot.find(key(500))->second, 500);
  EXPECT_EQ(snapshot.find(key(70000))->second, 70000);
  EXPECT_EQ(snapshot.size(), 100000u);
  EXPECT_EQ(map.find(key(500))->second, -1);
  EXPECT_EQ(map.size(), 99999u);
}

TEST(SnapshotMapTest, ShouldMergeChunksThatDeletionsLeaveSmall) {
  Map map;
  for (int i = 0; i < 10 * static_cast<int>(Map::kChunkEntries); ++i) map.set(key(i), i);
  for (int i = 0; i < 10 * static_cast<int>(Map::kChunkEntries); ++i) {
    if (i % 16 != 0) map.erase(key(i));
  }
  Map copy = map;
  // 160 entries left: one or two chunks, not ten.
  EXPECT_LE(copy.sharedChunks(), 2u);
  EXPECT_EQ(map.size(), 160u);
}

}  // namespace
}  // namespace tidemark
