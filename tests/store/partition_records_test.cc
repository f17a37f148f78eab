#include "store/partition_records.h"

#include <gtest/gtest.h>

namespace tidemark::store {
namespace {

PartitionCheckpoint record(int32_t generation, uint64_t id) {
  PartitionCheckpoint r;
  r.set_generation(generation);
  r.set_checkpoint_id(id);
  return r;
}

v1::PartitionKey key(const std::string& topic, int32_t partition) {
  return partitionKey({"g", topic, partition});
}

TEST(PartitionRecordsTest, ShouldPreferTheNewerGenerationEvenWhenItsCheckpointIsOlder) {
  // A stale owner's later write (generation 4) loses to the new owner's (5).
  EXPECT_TRUE(newerThan(record(5, 100), record(4, 900)));
  EXPECT_FALSE(newerThan(record(4, 900), record(5, 100)));
}

TEST(PartitionRecordsTest, ShouldPreferTheLaterCheckpointWithinOneGeneration) {
  EXPECT_TRUE(newerThan(record(5, 101), record(5, 100)));
  EXPECT_FALSE(newerThan(record(5, 100), record(5, 100)));
  EXPECT_TRUE(newerThan(record(0, 1), record(-1, 9)));  // a known generation beats unknown
}

TEST(PartitionRecordsTest, ShouldCutOneRecordPerPartitionWithItsOffsetAndItsStateOnly) {
  Manifest m;
  m.set_id(77);
  m.set_created_at_ms(1234);
  m.set_instance_id("pod-1");
  m.set_writer_epoch(3);
  auto* o = m.add_offsets();
  *o->mutable_key() = key("t.with.dots", 0);
  o->set_offset(42);
  o->set_generation(9);
  auto* unknown = m.add_offsets();  // marked before the group synced
  *unknown->mutable_key() = key("t.with.dots", 1);
  unknown->set_offset(7);
  auto* s = m.add_state();
  s->set_key("counts");
  s->set_sha256("h0");
  *s->mutable_partition() = key("t.with.dots", 0);
  auto* instance = m.add_state();  // the instance's own: in no partition record
  instance->set_key("model");
  auto* state_only = m.add_state();
  state_only->set_key("cache");
  *state_only->mutable_partition() = key("other", 3);

  auto records = partitionRecords(m);
  ASSERT_EQ(records.size(), 3u);
  // In partition order: ("g", "other", 3), ("g", "t.with.dots", 0), (..., 1).
  EXPECT_EQ(records[0].partition().topic(), "other");
  EXPECT_FALSE(records[0].has_offset());
  EXPECT_EQ(records[0].generation(), -1);
  ASSERT_EQ(records[0].state_size(), 1);
  EXPECT_EQ(records[0].state(0).key(), "cache");

  EXPECT_EQ(records[1].offset().offset(), 42);
  EXPECT_EQ(records[1].generation(), 9);
  ASSERT_EQ(records[1].state_size(), 1);
  EXPECT_EQ(records[1].state(0).key(), "counts");
  EXPECT_EQ(records[1].instance_id(), "pod-1");
  EXPECT_EQ(records[1].writer_epoch(), 3u);
  EXPECT_EQ(records[1].checkpoint_id(), 77u);
  EXPECT_EQ(records[1].created_at_ms(), 1234);

  EXPECT_EQ(records[2].offset().offset(), 7);
  EXPECT_EQ(records[2].generation(), -1);
  EXPECT_EQ(records[2].state_size(), 0);
}

}  // namespace
}  // namespace tidemark::store
