#include "sidecar/proxy/fetch_watermarks.h"

#include <algorithm>

#include "protocol/kafka/header.h"

namespace tidemark::proxy {
namespace {

constexpr int16_t kFetchKey = 1;
constexpr int16_t kMaxVersion = 16;

// Reads fields out of a prefix of the stream. A read that runs past the bytes
// at hand sets short_: the segment is parsed again once more have arrived.
class Cursor {
 public:
  explicit Cursor(std::string_view in) : in_(in) {}

  bool isShort() const { return short_; }
  size_t pos() const { return pos_; }

  bool skip(uint64_t n) {
    if (!have(n)) return false;
    pos_ += n;
    return true;
  }
  template <typename T>
  bool fixed(T& out) {
    if (!have(sizeof(T))) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v = (v << 8) | static_cast<uint8_t>(in_[pos_ + i]);
    out = static_cast<T>(v);
    pos_ += sizeof(T);
    return true;
  }
  // False with !isShort() when the varint is longer than five bytes.
  bool uvarint(uint32_t& out) {
    uint32_t v = 0;
    for (int shift = 0; shift <= 28; shift += 7) {
      if (!have(1)) return false;
      const auto b = static_cast<uint8_t>(in_[pos_++]);
      v |= static_cast<uint32_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        out = v;
        return true;
      }
    }
    return false;
  }
  // A flexible struct's tagged fields, passed over.
  bool skipTaggedFields() {
    uint32_t count = 0;
    if (!uvarint(count)) return false;
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t tag = 0;
      uint32_t size = 0;
      if (!uvarint(tag) || !uvarint(size) || !skip(size)) return false;
    }
    return true;
  }
  // An array's length or a nullable field's size: -1 for null.
  bool length(bool compact, bool wide, int64_t& out) {
    if (compact) {
      uint32_t v = 0;
      if (!uvarint(v)) return false;
      out = static_cast<int64_t>(v) - 1;
      return true;
    }
    if (wide) {
      int32_t v = 0;
      if (!fixed(v)) return false;
      out = v;
      return true;
    }
    int16_t v = 0;
    if (!fixed(v)) return false;
    out = v;
    return true;
  }

 private:
  bool have(uint64_t n) {
    if (in_.size() - pos_ >= n) return true;
    short_ = true;
    return false;
  }

  std::string_view in_;
  size_t pos_ = 0;
  bool short_ = false;
};

}  // namespace

FetchWatermarkTap::FetchWatermarkTap(int16_t version)
    : version_(version), flexible_(kafka::isFlexible(kFetchKey, version)) {
  if (version < 0 || version > kMaxVersion) stop("Fetch v" + std::to_string(version) + " unknown");
}

void FetchWatermarkTap::stop(std::string why) {
  if (stopped_.empty()) stopped_ = std::move(why);
  held_.clear();
  skip_ = 0;
  found_.clear();
}

void FetchWatermarkTap::skip(size_t n) {
  n = std::min(n, skip_);
  skip_ -= n;
  seen_ += n;
  settle();
}

// Non-flexible responses end right after their last records field; once every
// byte is seen, the (empty) rest is parsed to close the frame.
void FetchWatermarkTap::settle() {
  if (!stopped_.empty() || phase_ == Phase::kDone || skip_ > 0 || !held_.empty()) return;
  if (frame_ == 0 || seen_ != frame_) return;
  size_t consumed = 0;
  size_t records = 0;
  if (parseSegment({}, consumed, records) != Step::kDone) stop("the response ends mid-field");
}

void FetchWatermarkTap::feed(std::string_view bytes) {
  if (stopped_.empty()) run(bytes);
}

void FetchWatermarkTap::run(std::string_view in) {
  std::string carry;  // what follows a segment completed in held_
  while (!in.empty() && stopped_.empty()) {
    if (skip_ > 0) {
      const size_t n = std::min(skip_, in.size());
      skip(n);
      in.remove_prefix(n);
      continue;
    }
    if (phase_ == Phase::kDone) return stop("bytes after the end of the response");
    const bool from_held = !held_.empty();
    if (from_held) held_.append(in);
    const std::string_view segment = from_held ? std::string_view(held_) : in;
    size_t consumed = 0;
    size_t records = 0;
    switch (parseSegment(segment, consumed, records)) {
      case Step::kNeedMore:
        if (!from_held) held_.assign(segment);
        if (held_.size() > kMaxHeldBytes) stop("a partition header longer than the tap holds");
        return;
      case Step::kBad:
        return stop("not a Fetch v" + std::to_string(version_) + " response");
      case Step::kRecords:
        skip_ = records;
        [[fallthrough]];
      case Step::kDone:
        seen_ += consumed;
        if (from_held) {
          carry.assign(segment.substr(consumed));
          held_.clear();
          in = carry;
        } else {
          in = segment.substr(consumed);
        }
    }
  }
  settle();
}

FetchWatermarkTap::Step FetchWatermarkTap::parseSegment(std::string_view in, size_t& consumed,
                                                        size_t& records) {
  uint64_t frame = frame_;
  if (phase_ == Phase::kFrameStart) {
    int32_t length = 0;
    if (!Cursor(in).fixed(length)) return Step::kNeedMore;
    if (length < 4) return Step::kBad;
    frame = 4 + static_cast<uint64_t>(length);
  }
  // Never read past the frame: a field that would is malformed, not short.
  const uint64_t left = frame - seen_;
  const bool to_frame_end = in.size() >= left;
  Cursor c(to_frame_end ? in.substr(0, left) : in);
  const auto shortOrBad = [&] {
    return c.isShort() && !to_frame_end ? Step::kNeedMore : Step::kBad;
  };

  int64_t topics_left = topics_left_;
  int64_t partitions_left = partitions_left_;
  bool in_topic = in_topic_;
  FetchWatermark topic = topic_;
  const auto count = [&](int64_t& out) {
    // Each element takes at least a byte, so a count beyond the frame is malformed.
    return c.length(flexible_, true, out) && out >= 0 && static_cast<uint64_t>(out) <= left;
  };

  if (phase_ == Phase::kFrameStart) {
    if (!c.skip(4 + 4)) return shortOrBad();  // length, correlation id
    if (kafka::responseHeaderVersion(kFetchKey, version_) >= 1 && !c.skipTaggedFields()) {
      return shortOrBad();
    }
    if (version_ >= 1 && !c.skip(4)) return shortOrBad();      // throttle_time_ms
    if (version_ >= 7 && !c.skip(2 + 4)) return shortOrBad();  // error_code, session_id
    if (!count(topics_left)) return shortOrBad();
    partitions_left = 0;
    in_topic = false;
  } else if (flexible_ && !c.skipTaggedFields()) {  // the partition ends after its records
    return shortOrBad();
  }

  for (;;) {
    if (partitions_left == 0) {
      if (in_topic && flexible_ && !c.skipTaggedFields()) return shortOrBad();
      in_topic = false;
      if (topics_left == 0) {
        if (flexible_ && !c.skipTaggedFields()) return shortOrBad();
        if (c.pos() != left) return Step::kBad;
        consumed = c.pos();
        frame_ = frame;
        phase_ = Phase::kDone;
        return Step::kDone;
      }
      if (version_ >= 13) {
        for (auto& byte : topic.topic_id) {
          if (!c.fixed(byte)) return shortOrBad();
        }
      } else {
        int64_t size = 0;
        if (!c.length(flexible_, false, size) || size < 0) return shortOrBad();
        const size_t at = c.pos();
        if (!c.skip(static_cast<uint64_t>(size))) return shortOrBad();
        topic.topic.assign(in.substr(at, static_cast<size_t>(size)));
      }
      if (!count(partitions_left)) return shortOrBad();
      --topics_left;
      in_topic = true;
      continue;
    }

    FetchWatermark mark = topic;
    int16_t error_code = 0;
    if (!c.fixed(mark.partition) || !c.fixed(error_code) || !c.fixed(mark.high_watermark)) {
      return shortOrBad();
    }
    if (version_ >= 4 && !c.skip(8)) return shortOrBad();  // last_stable_offset
    if (version_ >= 5 && !c.skip(8)) return shortOrBad();  // log_start_offset
    if (version_ >= 4) {
      int64_t aborted = 0;  // nullable
      if (!c.length(flexible_, true, aborted) || aborted > static_cast<int64_t>(left)) {
        return shortOrBad();
      }
      for (int64_t i = 0; i < aborted; ++i) {
        if (!c.skip(8 + 8) || (flexible_ && !c.skipTaggedFields())) return shortOrBad();
      }
    }
    if (version_ >= 11 && !c.skip(4)) return shortOrBad();  // preferred_read_replica
    int64_t size = 0;                                       // nullable
    if (!c.length(flexible_, true, size)) return shortOrBad();
    size = std::max<int64_t>(size, 0);
    if (c.pos() + static_cast<uint64_t>(size) > left) return Step::kBad;

    if (error_code == 0) found_.push_back(mark);
    consumed = c.pos();
    records = static_cast<size_t>(size);
    frame_ = frame;
    phase_ = Phase::kAfterRecords;
    topics_left_ = topics_left;
    partitions_left_ = partitions_left - 1;
    in_topic_ = in_topic;
    topic_ = topic;
    return Step::kRecords;
  }
}

std::vector<FetchWatermark> decodedWatermarks(const kafka::FetchResponse& response,
                                              int16_t version) {
  std::vector<FetchWatermark> out;
  for (const auto& t : response.responses) {
    for (const auto& p : t.partitions) {
      if (p.error_code != 0) continue;
      FetchWatermark w;
      if (version >= 13) {
        w.topic_id = t.topic_id;
      } else {
        w.topic = t.topic;
      }
      w.partition = p.partition_index;
      w.high_watermark = p.high_watermark;
      out.push_back(w);
    }
  }
  return out;
}

std::vector<FetchWatermark> FetchWatermarkTap::watermarks() const {
  if (!complete() || seen_ != frame_) return {};
  return found_;
}

}  // namespace tidemark::proxy
