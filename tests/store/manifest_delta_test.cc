#include "store/manifest_delta.h"

#include <gtest/gtest.h>

#include <string>

namespace tidemark::store {
namespace {

StateRef ref(const std::string& key, const std::string& blob, int partition = -1) {
  StateRef r;
  r.set_key(key);
  r.set_sha256("sha-of-" + blob);
  r.set_size(blob.size());
  if (partition >= 0) {
    r.mutable_partition()->set_group("g");
    r.mutable_partition()->set_topic("t");
    r.mutable_partition()->set_partition(partition);
  }
  return r;
}

Manifest manifest(uint64_t id, std::initializer_list<StateRef> state) {
  Manifest m;
  m.set_format_version(1);
  m.set_id(id);
  m.set_trigger("interval");
  auto* o = m.add_offsets();
  o->mutable_key()->set_topic("t");
  o->set_offset(static_cast<int64_t>(id));
  for (const StateRef& r : state) *m.add_state() = r;
  return m;
}

TEST(ManifestDeltaTest, ShouldListOnlyTheChangedKeysWhenBothListTheSameKeys) {
  const Manifest a = manifest(1, {ref("a", "1"), ref("b", "1"), ref("c", "1")});
  const Manifest b = manifest(2, {ref("a", "1"), ref("b", "2"), ref("c", "1")});
  auto diff = diffState(a, b);
  ASSERT_TRUE(diff.isOk());
  EXPECT_TRUE(diff->aligned);
  ASSERT_EQ(diff->changes.size(), 1u);
  EXPECT_EQ(diff->changes[0].before, &a.state(1));
  EXPECT_EQ(diff->changes[0].after, &b.state(1));
  EXPECT_EQ(diff->changes[0].after_index, 1);
  EXPECT_EQ(diff->after_bytes, 3u);
}

TEST(ManifestDeltaTest, ShouldFindAddedAndRemovedKeysWhenTheKeysChanged) {
  const Manifest a = manifest(1, {ref("a", "1"), ref("b", "1")});
  const Manifest b = manifest(2, {ref("b", "1"), ref("c", "1")});
  auto diff = diffState(a, b);
  ASSERT_TRUE(diff.isOk());
  EXPECT_FALSE(diff->aligned);
  ASSERT_EQ(diff->changes.size(), 2u);
  EXPECT_EQ(diff->changes[0].before, nullptr);  // c added
  EXPECT_EQ(diff->changes[0].after->key(), "c");
  EXPECT_EQ(diff->changes[1].before->key(), "a");  // a removed
  EXPECT_EQ(diff->changes[1].after, nullptr);
}

TEST(ManifestDeltaTest, ShouldTellKeysOfOneNameInDifferentPartitionsApart) {
  const Manifest a = manifest(1, {ref("k", "1"), ref("k", "1", 0), ref("k", "1", 1)});
  const Manifest b = manifest(2, {ref("k", "1"), ref("k", "2", 0), ref("k", "1", 1)});
  auto diff = diffState(a, b);
  ASSERT_TRUE(diff.isOk());
  ASSERT_EQ(diff->changes.size(), 1u);
  EXPECT_EQ(diff->changes[0].after->partition().partition(), 0);
  EXPECT_NE(stateIdentity(a.state(0)), stateIdentity(a.state(1)));
  EXPECT_NE(stateIdentity(a.state(1)), stateIdentity(a.state(2)));
}

TEST(ManifestDeltaTest, ShouldRefuseAManifestThatListsAKeyTwice) {
  const Manifest a = manifest(1, {ref("a", "1")});
  const Manifest b = manifest(2, {ref("a", "1"), ref("a", "2")});
  auto diff = diffState(a, b);
  ASSERT_FALSE(diff.isOk());
  EXPECT_EQ(diff.status().code(), StatusCode::kInvalidArgument);
}

// The store's round trip: a whole manifest, then changes, rebuild the last.
TEST(ManifestDeltaTest, ShouldRebuildAManifestFromAWholeOneAndTheChangesAfterIt) {
  // In identity order, as a rebuilt manifest lists them: scoped keys ('#') first.
  const Manifest one = manifest(1, {ref("k", "1", 2), ref("a", "1"), ref("b", "1")});
  const Manifest two = manifest(2, {ref("k", "1", 2), ref("a", "2"), ref("b", "1")});
  const Manifest three = manifest(3, {ref("k", "3", 2), ref("a", "2"), ref("c", "1")});
  StateView view;
  view.reset(one);
  for (const Manifest* pair : {&one, &two}) {
    const Manifest& after = pair == &one ? two : three;
    auto diff = diffState(*pair, after);
    ASSERT_TRUE(diff.isOk());
    ASSERT_TRUE(view.apply(toDelta(after, *diff)).isOk());
  }
  EXPECT_EQ(view.manifest(headerOf(three)).SerializeAsString(), three.SerializeAsString());
}

TEST(ManifestDeltaTest, ShouldReportEveryReferenceBeforeAnyReleaseWhenApplying) {
  StateView view;
  view.reset(manifest(1, {ref("a", "x"), ref("b", "y")}));
  // x moves from a to b; a goes.
  const Manifest two = manifest(2, {ref("b", "x")});
  const Manifest one = manifest(1, {ref("a", "x"), ref("b", "y")});
  auto diff = diffState(one, two);
  ASSERT_TRUE(diff.isOk());
  std::string order;
  ASSERT_TRUE(view.apply(toDelta(two, *diff),
                         [&](const StateRef* before, const StateRef* after) {
                           order += after ? "+" + after->sha256().substr(7) : "";
                           order += before ? "-" + before->sha256().substr(7) : "";
                         })
                  .isOk());
  EXPECT_EQ(order, "+x-y-x");
}

TEST(ManifestDeltaTest, ShouldRefuseAChangeThatRemovesAKeyTheViewDoesNotHold) {
  StateView view;
  view.reset(manifest(1, {ref("a", "1")}));
  ManifestDelta delta;
  delta.mutable_header()->set_id(2);
  delta.add_removed()->set_key("b");
  Status s = view.apply(delta);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("'b'"), std::string::npos) << s.message();
}

// A field added to Manifest or StateRef must be added to copyHeader, or to
// sameIdentity/sameContent: otherwise a change to it alone would be lost.
TEST(ManifestDeltaTest, ShouldCarryEveryFieldOfTheMessagesItCompares) {
  EXPECT_EQ(Manifest::descriptor()->field_count(), 9) << "update copyHeader";
  EXPECT_EQ(StateRef::descriptor()->field_count(), 5) << "update sameIdentity or sameContent";
  Manifest m = manifest(7, {ref("a", "1")});
  m.set_created_at_ms(5);
  m.set_job_id("job");
  m.set_instance_id("pod-0");
  m.set_writer_epoch(3);
  Manifest expected = m;
  expected.clear_state();
  EXPECT_EQ(headerOf(m).SerializeAsString(), expected.SerializeAsString());
  StateRef typed = ref("a", "1");
  typed.set_content_type("text/plain");
  EXPECT_FALSE(sameContent(typed, ref("a", "1")));
}

TEST(ManifestDeltaTest, ShouldOrderScopedKeysByTheSidecarsInternalKey) {
  EXPECT_EQ(stateIdentity(ref("k", "1", 12)), "#67/t/12/k");  // hex("g") = 67
  EXPECT_EQ(stateIdentity(ref("k", "1")), "k");
}

}  // namespace
}  // namespace tidemark::store
