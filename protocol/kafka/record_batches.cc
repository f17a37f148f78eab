#include "protocol/kafka/record_batches.h"

#include "protocol/kafka/header.h"

namespace tidemark::kafka {
namespace {

int64_t loadInt64(const char* p) {
  return (static_cast<int64_t>(loadInt32(p)) << 32) |
         static_cast<int64_t>(static_cast<uint32_t>(loadInt32(p + 4)));
}

// Offsets within a batch (v2) or a legacy message set entry (v0/v1).
constexpr size_t kBaseOffset = 0;       // int64
constexpr size_t kLength = 8;           // int32: bytes after this field
constexpr size_t kMagic = 16;           // int8 (both formats)
constexpr size_t kLastOffsetDelta = 23;  // int32, v2 only
constexpr size_t kLogOverhead = 12;     // offset + length

}  // namespace

BatchSummary summarizeBatches(std::string_view records) {
  BatchSummary out;
  size_t pos = 0;
  while (records.size() - pos >= kLogOverhead) {
    const char* batch = records.data() + pos;
    const int32_t length = loadInt32(batch + kLength);
    if (length < 0 || static_cast<size_t>(length) > records.size() - pos - kLogOverhead) break;
    const int64_t base = loadInt64(batch + kBaseOffset);
    if (static_cast<size_t>(length) + kLogOverhead > kMagic && batch[kMagic] >= 2) {
      if (static_cast<size_t>(length) + kLogOverhead < kLastOffsetDelta + 4) break;
      out.last_offset = base + loadInt32(batch + kLastOffsetDelta);
    } else {
      out.last_offset = base;  // legacy message: the entry's offset is the message's
    }
    ++out.batches;
    pos += kLogOverhead + static_cast<size_t>(length);
  }
  return out;
}

}  // namespace tidemark::kafka
