#include "protocol/kafka/record_batches.h"

#include <gtest/gtest.h>

#include "protocol/kafka/wire.h"

namespace tidemark::kafka {
namespace {

// A v2 batch header followed by `payload` bytes standing in for records.
std::string batchV2(int64_t base, int32_t last_delta, size_t payload) {
  std::string out;
  Writer w(out);
  w.writeInt64(base);
  w.writeInt32(static_cast<int32_t>(49 + payload));  // header bytes after length + records
  w.writeInt32(0);                                   // partition leader epoch
  w.writeInt8(2);                                    // magic
  w.writeInt32(0);                                   // crc (not checked: we never read records)
  w.writeInt16(0);                                   // attributes
  w.writeInt32(last_delta);
  out.append(49 - 4 - 1 - 4 - 2 - 4, '\0');          // rest of the v2 header
  out.append(payload, 'r');
  return out;
}

TEST(RecordBatchesTest, ShouldReportTheLastOffsetOfTheLastCompleteBatch) {
  std::string records = batchV2(100, 9, 30) + batchV2(110, 4, 5);
  BatchSummary s = summarizeBatches(records);
  EXPECT_EQ(s.batches, 2);
  EXPECT_EQ(s.last_offset, 114);
}

TEST(RecordBatchesTest, ShouldIgnoreATrailingPartialBatch) {
  std::string records = batchV2(0, 2, 10) + batchV2(3, 7, 100).substr(0, 40);
  BatchSummary s = summarizeBatches(records);
  EXPECT_EQ(s.batches, 1);
  EXPECT_EQ(s.last_offset, 2);
}

TEST(RecordBatchesTest, ShouldReadLegacyMessageSetOffsets) {
  std::string records;
  Writer w(records);
  for (int64_t offset : {5, 6}) {
    w.writeInt64(offset);
    w.writeInt32(14);  // crc(4) magic(1) attributes(1) key(4) value(4)
    w.writeInt32(0);
    w.writeInt8(1);
    w.writeInt8(0);
    w.writeInt32(-1);
    w.writeInt32(-1);
  }
  BatchSummary s = summarizeBatches(records);
  EXPECT_EQ(s.batches, 2);
  EXPECT_EQ(s.last_offset, 6);
}

TEST(RecordBatchesTest, ShouldStopAtAnImpossibleLength) {
  std::string records = batchV2(0, 0, 0);
  records[8] = '\x7f';  // length far beyond the buffer
  EXPECT_EQ(summarizeBatches(records).batches, 0);
  EXPECT_FALSE(summarizeBatches("").last_offset.has_value());
}

}  // namespace
}  // namespace tidemark::kafka
