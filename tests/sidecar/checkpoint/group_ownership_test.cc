#include "sidecar/checkpoint/group_ownership.h"

#include <gtest/gtest.h>

namespace tidemark::checkpoint {
namespace {

using Set = std::set<PartitionId>;

TEST(GroupOwnershipTest, ShouldCountEverythingAsArrivedWhenThePreviousGenerationWasNotSeen) {
  GroupOwnership o;
  auto a = o.assign("g", "m1", 5, {{"t", {0, 1}}});  // the first sync after a restart
  EXPECT_EQ(a.partitions, (Set{{"g", "t", 0}, {"g", "t", 1}}));
  EXPECT_FALSE(a.previous_known);
  EXPECT_TRUE(o.owns({"g", "t", 0}));
  EXPECT_FALSE(o.owns({"g", "t", 2}));
  EXPECT_TRUE(o.owns({"other", "t", 2}));  // a group no member synced: HTTP marks
}

TEST(GroupOwnershipTest, ShouldNotCountAPartitionMovingBetweenTwoMembersHereAsArrived) {
  GroupOwnership o;
  o.assign("g", "m1", 1, {{"t", {0, 1}}});
  o.assign("g", "m2", 1, {{"t", {2, 3}}});
  // Generation 2: m1 syncs first and gives partition 1 up; m2 takes it.
  auto a1 = o.assign("g", "m1", 2, {{"t", {0}}});
  EXPECT_TRUE(a1.partitions.empty());
  EXPECT_TRUE(a1.previous_known);
  auto a2 = o.assign("g", "m2", 2, {{"t", {1, 2, 3}}});
  EXPECT_TRUE(a2.partitions.empty());
  // m2 gained partition 1 (whatever m1 staged for it and never sealed goes).
  EXPECT_TRUE(a1.gained.empty());
  EXPECT_EQ(a2.gained, (Set{{"g", "t", 1}}));
  EXPECT_TRUE(o.owns({"g", "t", 1}));
}

TEST(GroupOwnershipTest, ShouldCountAPartitionComingBackFromAnotherInstanceAsArrived) {
  GroupOwnership o;
  o.assign("g", "m1", 1, {{"t", {0, 1}}});
  o.assign("g", "m1", 2, {{"t", {0}}});  // partition 1 went to another instance
  EXPECT_FALSE(o.owns({"g", "t", 1}));
  auto back = o.assign("g", "m1", 3, {{"t", {0, 1}}});
  EXPECT_EQ(back.partitions, (Set{{"g", "t", 1}}));
  EXPECT_TRUE(back.previous_known);
}

TEST(GroupOwnershipTest, ShouldForgetMembersThatStoppedSyncingAndDroppedOnes) {
  GroupOwnership o;
  o.assign("g", "m1", 1, {{"t", {0}}});
  o.assign("g", "gone", 1, {{"t", {1}}});
  o.assign("g", "m1", 2, {{"t", {0}}});
  // "gone" held partition 1 in generation 1 and did not sync in 2: in
  // generation 3 it no longer counts, so partition 1 arrives.
  auto a = o.assign("g", "m1", 3, {{"t", {0, 1}}});
  EXPECT_EQ(a.partitions, (Set{{"g", "t", 1}}));
  o.drop("g", "m1");
  EXPECT_FALSE(o.owns({"g", "t", 0}));
}

TEST(GroupOwnershipTest, ShouldNotCountPartitionsAsArrivedWhenAnExpiredMemberIsReplacedHere) {
  GroupOwnership o;
  o.assign("g", "m1", 2, {{"t", {0, 1}}});
  o.assign("g", "m1", 3, {{"t", {0, 1}}});
  o.drop("g", "m1");  // expired during a network partition
  EXPECT_FALSE(o.owns({"g", "t", 0}));
  // The application's consumer rejoins as a new member in the very next
  // generation: nobody else held the partitions in between.
  auto a = o.assign("g", "m2", 4, {{"t", {0, 1}}});
  EXPECT_TRUE(a.previous_known);
  EXPECT_TRUE(a.partitions.empty());
  // Whatever the expired member staged and never sealed is dropped.
  EXPECT_EQ(a.gained, (Set{{"g", "t", 0}, {"g", "t", 1}}));
  EXPECT_TRUE(o.owns({"g", "t", 0}));
}

TEST(GroupOwnershipTest,
     ShouldCountAnExpiredMembersPartitionsAsArrivedWhenAGenerationPassedElsewhere) {
  GroupOwnership o;
  o.assign("g", "m1", 3, {{"t", {0, 1}}});
  o.drop("g", "m1");
  // Generation 4 gave them to another instance; 5 brings them back here.
  auto a = o.assign("g", "m2", 5, {{"t", {0, 1}}});
  EXPECT_FALSE(a.previous_known);
  EXPECT_EQ(a.partitions, (Set{{"g", "t", 0}, {"g", "t", 1}}));
}

TEST(GroupOwnershipTest, ShouldTreatADroppedMemberSyncingAgainAsGainingEverything) {
  GroupOwnership o;
  o.assign("g", "m1", 3, {{"t", {0}}});
  o.drop("g", "m1");
  auto a = o.assign("g", "m1", 4, {{"t", {0}}});  // the same member id back
  EXPECT_TRUE(a.partitions.empty());
  EXPECT_EQ(a.gained, (Set{{"g", "t", 0}}));  // its staged writes were a fenced member's
  EXPECT_TRUE(o.owns({"g", "t", 0}));
}

TEST(GroupOwnershipTest, ShouldNotKnowThePreviousGenerationWhenItSkippedOne) {
  GroupOwnership o;
  o.assign("g", "m1", 1, {{"t", {0}}});
  auto a = o.assign("g", "m1", 3, {{"t", {0, 1}}});  // generation 2 happened without us
  EXPECT_FALSE(a.previous_known);
  // Partition 0 too: generation 2 may have given it to another instance.
  EXPECT_EQ(a.partitions, (Set{{"g", "t", 0}, {"g", "t", 1}}));
}

}  // namespace
}  // namespace tidemark::checkpoint
