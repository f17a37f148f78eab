#pragma once

// Reads the headers of the record batches in a `records` field without
// touching the records themselves: enough to know the last offset a Fetch
// response delivered for a partition. Only the 8-byte base offset, the 4-byte
// length and (v2 batches) the 4-byte last-offset delta of each batch are read.

#include <cstdint>
#include <optional>
#include <string_view>

namespace tidemark::kafka {

struct BatchSummary {
  int32_t batches = 0;           // complete batches seen
  std::optional<int64_t> last_offset;  // offset of the last record in the last complete batch
};

// A fetch may end in a partial batch (the broker cuts at max_bytes): it is
// ignored, as clients ignore it.
BatchSummary summarizeBatches(std::string_view records);

}  // namespace tidemark::kafka
