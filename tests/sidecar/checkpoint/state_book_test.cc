#include "sidecar/checkpoint/state_book.h"

#include <gtest/gtest.h>

#include "store/checkpoint_store.h"

namespace tidemark::checkpoint {
namespace {

const PartitionId kP0{"g", "orders.v1", 0};

TEST(StateBookTest, ShouldKeepWritesStagedUntilAnOffsetCommitSealsThem) {
  StateBook book(/*seal_immediately=*/false);
  ASSERT_TRUE(book.put("k", "v1", "text/plain", std::nullopt).isOk());
  EXPECT_FALSE(book.get("k", View::kSealed).has_value());
  EXPECT_EQ(*book.get("k", View::kStaged)->data, "v1");
  book.seal({{kP0, {10, -1, std::nullopt}}});
  EXPECT_EQ(*book.get("k", View::kSealed)->data, "v1");
  EXPECT_EQ(book.get("k", View::kSealed)->content_type, "text/plain");
  EXPECT_EQ(book.sealed().offsets.at(kP0).offset, 10);
  EXPECT_FALSE(book.hasStaged());
}

// Samza's rule: a partition's state is sealed with that partition's offset.
// A crashed member's uncommitted write for partition 4 must never be sealed
// by another partition's commit (it would then pair with an older offset).
TEST(StateBookTest, ShouldSealAPartitionsStagedStateOnlyWithThatPartitionsOffset) {
  const PartitionId p4{"g", "orders.v1", 4};
  StateBook book(/*seal_immediately=*/false);
  ASSERT_TRUE(book.put(scopedKey(p4, "count"), "40", "text/plain", std::nullopt).isOk());
  ASSERT_TRUE(book.put(scopedKey(kP0, "count"), "7", "text/plain", std::nullopt).isOk());
  ASSERT_TRUE(book.put("model", "m", "text/plain", std::nullopt).isOk());
  book.seal({{kP0, {10, -1, std::nullopt}}});
  EXPECT_EQ(*book.get(scopedKey(kP0, "count"), View::kSealed)->data, "7");
  EXPECT_EQ(*book.get("model", View::kSealed)->data, "m");  // instance state: any commit
  EXPECT_FALSE(book.get(scopedKey(p4, "count"), View::kSealed).has_value());
  EXPECT_TRUE(book.hasStaged());
  book.seal({{p4, {40, -1, std::nullopt}}});
  EXPECT_EQ(*book.get(scopedKey(p4, "count"), View::kSealed)->data, "40");
  EXPECT_FALSE(book.hasStaged());
}

TEST(StateBookTest, ShouldForgetAPartitionsStagedWritesWhenItChangesHands) {
  const PartitionId p4{"g", "orders.v1", 4};
  StateBook book(/*seal_immediately=*/false);
  ASSERT_TRUE(book.put(scopedKey(p4, "count"), "30", "text/plain", std::nullopt).isOk());
  book.seal({{p4, {30, -1, std::nullopt}}});
  ASSERT_TRUE(book.put(scopedKey(p4, "count"), "40", "text/plain", std::nullopt).isOk());
  ASSERT_TRUE(book.put(scopedKey(kP0, "count"), "7", "text/plain", std::nullopt).isOk());
  book.dropStaged(p4);
  EXPECT_EQ(*book.get(scopedKey(p4, "count"), View::kStaged)->data, "30");  // the sealed one
  EXPECT_EQ(*book.get(scopedKey(kP0, "count"), View::kStaged)->data, "7");  // untouched
}

TEST(StateBookTest, ShouldSealAStagedDeleteWithTheNextCommit) {
  StateBook book(false);
  ASSERT_TRUE(book.put("k", "v", "", std::nullopt).isOk());
  book.seal({});
  ASSERT_TRUE(book.remove("k", std::nullopt).isOk());
  EXPECT_TRUE(book.get("k", View::kSealed).has_value());
  EXPECT_FALSE(book.get("k", View::kStaged).has_value());
  book.seal({});
  EXPECT_FALSE(book.get("k", View::kSealed).has_value());
  EXPECT_EQ(book.remove("k", std::nullopt).code(), StatusCode::kNotFound);
}

TEST(StateBookTest, ShouldSealAtOnceWhenConfiguredImmediate) {
  StateBook book(/*seal_immediately=*/true);
  ASSERT_TRUE(book.put("k", "v", "", std::nullopt).isOk());
  EXPECT_TRUE(book.get("k", View::kSealed).has_value());
  EXPECT_EQ(book.sealed().seal, 1u);
}

TEST(StateBookTest, ShouldEnforceIfMatchAgainstTheStagedView) {
  StateBook book(false);
  ASSERT_TRUE(book.put("k", "v1", "", std::nullopt).isOk());
  const std::string etag = StateBook::etag(*book.get("k", View::kStaged));
  EXPECT_EQ(book.put("k", "v2", "", std::string("\"nope\"")).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(book.put("k", "v2", "", etag).isOk());
  EXPECT_EQ(book.put("k", "v3", "", etag).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(book.put("absent", "x", "", std::string("*")).code(), StatusCode::kFailedPrecondition);
}

TEST(StateBookTest, ShouldCountProcessedMessagesFromOffsetDeltas) {
  StateBook book(false);
  EXPECT_EQ(book.seal({{kP0, {100, -1, std::nullopt}}}), 0u);  // first sighting counts nothing
  EXPECT_EQ(book.seal({{kP0, {130, -1, std::nullopt}}}), 30u);
  EXPECT_EQ(book.seal({{kP0, {120, -1, std::nullopt}}}), 0u);  // a rewind is not negative work
}

TEST(StateBookTest, ShouldKeepNullAndEmptyMetadataApart) {
  StateBook book(false);
  book.seal({{kP0, {1, 5, std::string()}}, {{"g", "t", 1}, {2, -1, std::nullopt}}});
  EXPECT_EQ(book.sealed().offsets.at(kP0).metadata, std::string());
  EXPECT_EQ(book.sealed().offsets.at({"g", "t", 1}).metadata, std::nullopt);
  EXPECT_EQ(book.sealed().offsets.at(kP0).leader_epoch, 5);
}

TEST(StateBookTest, ShouldListByPrefixMergingStagedWrites) {
  StateBook book(false);
  ASSERT_TRUE(book.put("a/1", "x", "", std::nullopt).isOk());
  book.seal({});
  ASSERT_TRUE(book.put("a/2", "y", "", std::nullopt).isOk());
  ASSERT_TRUE(book.remove("a/1", std::nullopt).isOk());
  auto sealed = book.list("a/", View::kSealed);
  ASSERT_EQ(sealed.size(), 1u);
  EXPECT_EQ(sealed[0].first, "a/1");
  auto staged = book.list("a/", View::kStaged);
  ASSERT_EQ(staged.size(), 1u);
  EXPECT_EQ(staged[0].first, "a/2");
}

TEST(KeyRulesTest, ShouldAcceptPathLikeKeysAndRejectTraversalAndOddCharacters) {
  for (const char* ok : {"counts", "a/b/c", "user@host:v=1+x~y", "x-y_z.1"}) {
    EXPECT_TRUE(validateKey(ok).isOk()) << ok;
  }
  for (const char* bad : {"", "/abs", "a//b", "a/../b", "./a", "a/", "sp ace", "a\\b", "é"}) {
    EXPECT_FALSE(validateKey(bad).isOk()) << bad;
  }
  EXPECT_FALSE(validateKey(std::string(513, 'k')).isOk());
  EXPECT_FALSE(validateKey(std::string("a\0b", 3)).isOk());
}

}  // namespace
}  // namespace tidemark::checkpoint

namespace tidemark::checkpoint {
namespace {

TEST(StateBookAssignmentTest, ShouldStampOffsetsOfUnknownGenerationWithTheGroupsGeneration) {
  StateBook book(false);
  book.seal({{kP0, {10, -1, std::nullopt}}});
  EXPECT_EQ(book.sealed().offsets.at(kP0).generation, -1);  // the group has not synced
  book.setGeneration("g", 7);
  book.seal({{kP0, {11, -1, std::nullopt}}});
  EXPECT_EQ(book.sealed().offsets.at(kP0).generation, 7);
  book.seal({{kP0, {12, -1, std::nullopt, 8}}});  // the commit's own generation wins
  EXPECT_EQ(book.sealed().offsets.at(kP0).generation, 8);
}

TEST(StateBookAssignmentTest, ShouldReplaceEverythingOfAPartitionWhenAdoptingItsCheckpoint) {
  StateBook book(false);
  const PartitionId p1{"g", "orders.v1", 1};
  ASSERT_TRUE(book.put(scopedKey(kP0, "stale"), "old", "", std::nullopt).isOk());
  ASSERT_TRUE(book.put(scopedKey(kP0, "counts"), "old", "", std::nullopt).isOk());
  ASSERT_TRUE(book.put(scopedKey(p1, "counts"), "mine", "", std::nullopt).isOk());
  book.seal({{kP0, {5, -1, std::nullopt}}, {p1, {3, -1, std::nullopt}}});
  ASSERT_TRUE(book.put(scopedKey(kP0, "counts"), "staged", "", std::nullopt).isOk());
  const uint64_t seal = book.sealed().seal;

  StateEntry adopted = StateEntry::of("theirs", "application/json");
  book.adopt(kP0, CommittedOffset{40, 2, std::nullopt, 9}, {{"counts", adopted}});
  EXPECT_GT(book.sealed().seal, seal);
  EXPECT_EQ(book.sealed().offsets.at(kP0).offset, 40);
  EXPECT_EQ(book.sealed().offsets.at(kP0).generation, 9);
  EXPECT_EQ(*book.get(scopedKey(kP0, "counts"), View::kSealed)->data, "theirs");
  EXPECT_EQ(*book.get(scopedKey(kP0, "counts"), View::kStaged)->data, "theirs");
  EXPECT_FALSE(book.get(scopedKey(kP0, "stale"), View::kStaged).has_value());
  EXPECT_EQ(*book.get(scopedKey(p1, "counts"), View::kSealed)->data, "mine");  // untouched
  EXPECT_TRUE(book.holds(kP0));

  book.adopt(kP0, std::nullopt, {});
  EXPECT_FALSE(book.holds(kP0));
  EXPECT_TRUE(book.holds(p1));
}

TEST(StateBookAssignmentTest, ShouldRoundTripScopedKeysWithAnyGroupName) {
  const PartitionId p{"orders/v1 #weird", "topic.with.dots", 7};
  auto parsed = parseScopedKey(scopedKey(p, "a/b"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first, p);
  EXPECT_EQ(parsed->second, "a/b");
  EXPECT_FALSE(parseScopedKey("a/b"));
  EXPECT_EQ(describeKey(scopedKey(p, "a/b")), "a/b of group orders/v1 #weird, topic.with.dots/7");
  EXPECT_EQ(describeKey("a/b"), "a/b");
}

// Where the bytes live: a durable entry keeps them only within the cache.

bool resident(StateBook& book, const std::string& key) {
  return book.get(key, View::kSealed)->resident();
}

TEST(StateBookCacheTest, ShouldKeepDurableBytesWithinTheBudgetDroppingTheLeastRecentlyUsed) {
  StateBook book(/*seal_immediately=*/true, /*cache_bytes=*/10);
  for (const char* key : {"a", "b", "c"}) {
    ASSERT_TRUE(book.put(key, "4444", "", std::nullopt).isOk());
  }
  EXPECT_EQ(book.cachedBytes(), 0u);  // nothing durable yet: all held, none cached
  book.durable(book.sealed());
  EXPECT_FALSE(resident(book, "a"));  // the oldest of three 4-byte values in 10 bytes
  EXPECT_TRUE(resident(book, "b"));
  EXPECT_TRUE(resident(book, "c"));
  EXPECT_EQ(book.cachedBytes(), 8u);

  (void)book.get("b", View::kSealed);  // c is now the least recently used
  const std::string sha = book.get("a", View::kSealed)->sha256;
  book.fill("a", sha, std::make_shared<const std::string>("4444"));
  EXPECT_TRUE(resident(book, "a"));
  EXPECT_TRUE(resident(book, "b"));
  EXPECT_FALSE(resident(book, "c"));
  EXPECT_EQ(book.get("c", View::kSealed)->size, 4u);  // the index stays whole
  EXPECT_EQ(book.cachedBytes(), 8u);
}

TEST(StateBookCacheTest, ShouldKeepBytesNoDurableCheckpointHoldsWhateverTheBudget) {
  StateBook book(/*seal_immediately=*/false, /*cache_bytes=*/0);
  ASSERT_TRUE(book.put("k", "old", "", std::nullopt).isOk());
  book.seal({});
  const SealedView snapshot = book.sealed();
  ASSERT_TRUE(book.put("k", "new", "", std::nullopt).isOk());
  book.seal({});  // sealed after the snapshot: the store does not hold "new"
  book.durable(snapshot);
  ASSERT_TRUE(resident(book, "k"));
  EXPECT_EQ(*book.get("k", View::kSealed)->data, "new");

  book.durable(book.sealed());
  EXPECT_FALSE(resident(book, "k"));
  EXPECT_EQ(book.cachedBytes(), 0u);
  // Bytes read for an entry that changed since are not taken for it.
  ASSERT_TRUE(book.put("k", "newer", "", std::nullopt).isOk());
  book.seal({});
  book.fill("k", store::sha256("new"), std::make_shared<const std::string>("new"));
  EXPECT_EQ(*book.get("k", View::kSealed)->data, "newer");
}

// A checkpoint's store asks only for blobs it does not hold: the book must
// name every one, and only those, so a checkpoint costs what changed.
TEST(StateBookCacheTest, ShouldOfferTheStoreExactlyTheBytesNoDurableCheckpointHolds) {
  StateBook book(/*seal_immediately=*/true, /*cache_bytes=*/100);
  ASSERT_TRUE(book.put("a", "1", "", std::nullopt).isOk());
  ASSERT_TRUE(book.put("b", "2", "", std::nullopt).isOk());
  EXPECT_EQ(book.blobsNotDurable().size(), 2u);
  const SealedView snapshot = book.sealed();
  ASSERT_TRUE(book.put("b", "3", "", std::nullopt).isOk());  // after the snapshot
  book.durable(snapshot);
  auto fresh = book.blobsNotDurable();
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(*fresh.at(store::sha256("3")), "3");

  book.durable(book.sealed());
  EXPECT_TRUE(book.blobsNotDurable().empty());  // cached bytes are in the store too
  // State adopted with a partition came from another instance's checkpoint:
  // this store does not hold it.
  std::map<std::string, StateEntry> adopted;
  adopted["count"] = StateEntry::of("40", "text/plain");
  book.adopt(kP0, CommittedOffset{40}, std::move(adopted));
  fresh = book.blobsNotDurable();
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(*fresh.at(store::sha256("40")), "40");
  ASSERT_TRUE(book.remove(scopedKey(kP0, "count"), std::nullopt).isOk());
  EXPECT_TRUE(book.blobsNotDurable().empty());
  // Restored entries are the store's own.
  SealedView restored;
  restored.state.set("r", {nullptr, store::sha256("r"), "", 1});
  book.restore(std::move(restored));
  EXPECT_TRUE(book.blobsNotDurable().empty());
}

TEST(StateBookCacheTest, ShouldReleaseTheCachedBytesOfAnEntryThatIsOverwrittenOrDeleted) {
  StateBook book(/*seal_immediately=*/true, /*cache_bytes=*/100);
  ASSERT_TRUE(book.put("a", "12345", "", std::nullopt).isOk());
  ASSERT_TRUE(book.put(scopedKey(kP0, "b"), "123", "", std::nullopt).isOk());
  book.durable(book.sealed());
  EXPECT_EQ(book.cachedBytes(), 8u);
  ASSERT_TRUE(book.put("a", "1", "", std::nullopt).isOk());
  EXPECT_EQ(book.cachedBytes(), 3u);
  book.adopt(kP0, std::nullopt, {});
  EXPECT_EQ(book.cachedBytes(), 0u);
  book.durable(book.sealed());
  ASSERT_TRUE(book.remove("a", std::nullopt).isOk());
  EXPECT_EQ(book.cachedBytes(), 0u);
}

}  // namespace
}  // namespace tidemark::checkpoint
