#pragma once

// Reads each partition's high watermark out of a Fetch response while its
// bytes stream past the proxy, without holding its record data: the lag
// metrics come from what the application's own fetches already carry, and
// the forwarding path stays a byte pump.
//
// The caller shows the tap the frame in order, from its 4-byte length prefix,
// with pass() (streamed) or feed() (buffered). The tap holds only the bytes
// of the field it is in the middle of (partition headers, a topic name,
// aborted-transaction lists), at most kMaxHeldBytes. Anything it does not understand makes it stop following the
// frame; it never affects what is forwarded. Watermarks are reported only for
// a frame that parsed to its exact end, and only for partitions without an
// error. Versions 0-16. Not thread-safe; one tap per response.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/kafka/messages.h"
#include "protocol/kafka/wire.h"

namespace tidemark::proxy {

struct FetchWatermark {
  std::string topic;       // versions 0-12
  kafka::Uuid topic_id{};  // versions 13+
  int32_t partition = 0;
  int64_t high_watermark = 0;
  bool operator==(const FetchWatermark&) const = default;
};

// Where the proxy reports the watermarks it reads, by topic name (the lag
// metrics). Loop thread only.
class WatermarkSink {
 public:
  virtual ~WatermarkSink() = default;
  virtual void observed(const std::string& topic, int32_t partition, int64_t high_watermark) = 0;
};

class FetchWatermarkTap {
 public:
  static constexpr size_t kMaxHeldBytes = 64 << 10;
  // The most bytes pass() copies out at a time: partition headers are small.
  static constexpr size_t kPeekBytes = 256;

  explicit FetchWatermarkTap(int16_t version);

  // One step of a stream going past: of the next `n` (>= 1) bytes, how many
  // the caller moves on now. Those the tap needs are copied out with
  // `peek(char* dst, size_t k)`, at most kPeekBytes; record data is passed
  // over unseen; once stopped, all `n` go.
  template <typename Peek>
  size_t pass(size_t n, Peek&& peek) {
    if (!stopped_.empty()) return n;
    if (skip_ > 0) {
      n = std::min(n, skip_);
      skip(n);
      return n;
    }
    char head[kPeekBytes];
    n = std::min(n, sizeof(head));
    peek(head, n);
    feed({head, n});
    return n;
  }

  // Shows the tap the next bytes of the frame (all of it at once, for a
  // buffered answer); they may run past a field into record data, which it
  // then passes over itself.
  void feed(std::string_view bytes);

  // The whole frame was seen and parsed.
  bool complete() const { return phase_ == Phase::kDone && stopped_.empty(); }
  // Why the tap stopped following the frame; empty while it follows.
  const std::string& stopped() const { return stopped_; }
  // The frame's watermarks, once complete(); empty otherwise.
  std::vector<FetchWatermark> watermarks() const;

 private:
  // Passes over `n` <= skip_ bytes (record data) unseen.
  void skip(size_t n);
  enum class Phase { kFrameStart, kAfterRecords, kDone };
  enum class Step { kNeedMore, kRecords, kDone, kBad };
  // Parses from the frame start or the end of a records field up to the next
  // records field or the end of the frame. State changes only when it
  // completes, so a segment cut short is parsed again with more bytes.
  Step parseSegment(std::string_view in, size_t& consumed, size_t& records);
  void run(std::string_view in);
  void settle();
  void stop(std::string why);

  int16_t version_;
  bool flexible_;
  Phase phase_ = Phase::kFrameStart;
  std::string held_;    // the start of a segment not yet complete
  size_t skip_ = 0;     // record bytes still to pass over
  uint64_t seen_ = 0;   // frame bytes seen or skipped, length prefix included
  uint64_t frame_ = 0;  // the frame's size, length prefix included; 0 until known
  int64_t topics_left_ = 0;
  int64_t partitions_left_ = 0;
  bool in_topic_ = false;
  FetchWatermark topic_;  // the topic being read (its partition unset)
  std::vector<FetchWatermark> found_;
  std::string stopped_;
};

// The watermarks the tap reports for `response` at `version`, read from the
// decoded message instead: the tap's specification, for tests and fuzzing.
std::vector<FetchWatermark> decodedWatermarks(const kafka::FetchResponse& response,
                                              int16_t version);

}  // namespace tidemark::proxy
