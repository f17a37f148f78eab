#include "sidecar/proxy/fetch_watermarks.h"

#include <gtest/gtest.h>

#include <cstring>

#include "protocol/kafka/header.h"
#include "protocol/kafka/testing.h"

namespace tidemark::proxy {
namespace {

using namespace kafka;

constexpr int16_t kFetchKey = 1;

std::string frameOf(const FetchResponse& m, int16_t version, int32_t correlation_id = 7) {
  std::string frame(4, '\0');
  Writer w(frame);
  encodeResponseHeader(w, {correlation_id, {}}, responseHeaderVersion(kFetchKey, version));
  auto body = m.serialize(version);
  EXPECT_TRUE(body.isOk()) << body.status().message();
  frame += *body;
  storeInt32(frame.data(), static_cast<int32_t>(frame.size() - 4));
  return frame;
}

// Shows the tap `frame` as the proxy does: record bytes skipped unseen, the
// rest fed in pieces of at most `piece` bytes. Returns the bytes it was shown.
size_t stream(FetchWatermarkTap& tap, std::string_view frame, size_t piece) {
  size_t shown = 0;
  while (!frame.empty()) {
    frame.remove_prefix(tap.pass(std::min(frame.size(), piece), [&](char* dst, size_t k) {
      std::memcpy(dst, frame.data(), k);
      shown += k;
    }));
  }
  return shown;
}

FetchResponse twoTopics() {
  FetchResponse m;
  m.responses.resize(2);
  m.responses[0].topic = "orders";
  m.responses[0].topic_id[15] = 1;
  m.responses[0].partitions.resize(2);
  m.responses[0].partitions[0].partition_index = 0;
  m.responses[0].partitions[0].high_watermark = 1200;
  m.responses[0].partitions[0].records = std::string_view("0123456789abcdef0123456789abcdef");
  m.responses[0].partitions[1].partition_index = 3;
  m.responses[0].partitions[1].high_watermark = 77;
  m.responses[1].topic = "payments";
  m.responses[1].topic_id[15] = 2;
  m.responses[1].partitions.resize(1);
  m.responses[1].partitions[0].partition_index = 5;
  m.responses[1].partitions[0].error_code = 6;  // NOT_LEADER_OR_FOLLOWER
  m.responses[1].partitions[0].high_watermark = -1;
  return m;
}

TEST(FetchWatermarkTapTest, ShouldReadEveryPartitionsWatermarkWhenFedWholeInEveryVersion) {
  const FetchResponse m = twoTopics();
  for (int16_t v = 0; v <= 16; ++v) {
    FetchWatermarkTap tap(v);
    const std::string frame = frameOf(m, v);
    tap.feed(frame);
    ASSERT_TRUE(tap.complete()) << "v" << v << ": " << tap.stopped();
    EXPECT_EQ(tap.watermarks(), decodedWatermarks(m, v)) << "v" << v;
    EXPECT_EQ(tap.watermarks().size(), 2u);
  }
}

TEST(FetchWatermarkTapTest, ShouldNeverBeShownRecordBytesWhenTheCallerSkipsThem) {
  FetchResponse m = twoTopics();
  const std::string big(1 << 20, 'r');
  m.responses[0].partitions[0].records = big;
  for (int16_t v = 0; v <= 16; ++v) {
    FetchWatermarkTap tap(v);
    const std::string frame = frameOf(m, v);
    const size_t shown = stream(tap, frame, 512);
    ASSERT_TRUE(tap.complete()) << "v" << v << ": " << tap.stopped();
    EXPECT_EQ(tap.watermarks(), decodedWatermarks(m, v));
    EXPECT_LT(shown, 2048u) << "v" << v;  // headers only; never the megabyte of records
  }
}

// The specification: whatever a broker sends in any version, cut anywhere,
// the tap reads exactly the watermarks the full decoder reads.
TEST(FetchWatermarkTapTest, ShouldAgreeWithTheDecoderOnRandomResponsesCutAnywhere) {
  for (int seed = 0; seed < 200; ++seed) {
    testing::Rng rng(seed);
    for (int16_t v = 0; v <= 16; ++v) {
      FetchResponse m;
      testing::randomize(m, v, isFlexible(kFetchKey, v), rng);
      const std::string frame = frameOf(m, v, seed);
      for (size_t piece : {size_t{1}, size_t{3}, size_t{64}, frame.size()}) {
        FetchWatermarkTap tap(v);
        stream(tap, frame, piece);
        ASSERT_TRUE(tap.complete()) << "seed " << seed << " v" << v << ": " << tap.stopped();
        ASSERT_EQ(tap.watermarks(), decodedWatermarks(m, v)) << "seed " << seed << " v" << v;
      }
    }
  }
}

TEST(FetchWatermarkTapTest, ShouldReportNothingWhenTheFrameIsCutShort) {
  const std::string frame = frameOf(twoTopics(), 11);
  FetchWatermarkTap tap(11);
  tap.feed(std::string_view(frame).substr(0, frame.size() - 1));
  EXPECT_FALSE(tap.complete());
  EXPECT_TRUE(tap.watermarks().empty());
}

TEST(FetchWatermarkTapTest, ShouldStopWhenALengthRunsPastTheFrame) {
  FetchResponse m = twoTopics();
  std::string frame = frameOf(m, 4);
  // Shrink the frame's declared size below what its first records field needs.
  storeInt32(frame.data(), 40);
  FetchWatermarkTap tap(4);
  tap.feed(frame);
  EXPECT_FALSE(tap.complete());
  EXPECT_FALSE(tap.stopped().empty());
  EXPECT_TRUE(tap.watermarks().empty());
}

TEST(FetchWatermarkTapTest, ShouldStopWhenBytesFollowTheEndOfTheResponse) {
  std::string frame = frameOf(twoTopics(), 12) + "x";
  storeInt32(frame.data(), static_cast<int32_t>(frame.size() - 4));
  FetchWatermarkTap tap(12);
  tap.feed(frame);
  EXPECT_FALSE(tap.complete());
  EXPECT_TRUE(tap.watermarks().empty());
}

TEST(FetchWatermarkTapTest, ShouldStopRatherThanHoldAnOversizedHeader) {
  FetchResponse m;
  m.responses.resize(1);
  m.responses[0].topic = "t";
  m.responses[0].partitions.resize(1);
  m.responses[0].partitions[0].aborted_transactions =
      std::vector<FetchResponse::AbortedTransaction>(8192);  // 128 KiB of header
  FetchWatermarkTap tap(4);
  stream(tap, frameOf(m, 4), 4096);
  EXPECT_FALSE(tap.complete());
  EXPECT_NE(tap.stopped().find("longer than"), std::string::npos) << tap.stopped();
}

TEST(FetchWatermarkTapTest, ShouldNeverCrashOnRandomBytes) {
  testing::Rng rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(rng.below(200), '\0');
    for (auto& b : bytes) b = static_cast<char>(rng.below(256));
    if (bytes.size() >= 4 && rng.chance(2))
      storeInt32(bytes.data(), static_cast<int32_t>(bytes.size() - 4));
    const auto v = static_cast<int16_t>(rng.below(18));
    FetchWatermarkTap tap(v);
    stream(tap, bytes, 1 + rng.below(16));
    (void)tap.watermarks();
  }
}

}  // namespace
}  // namespace tidemark::proxy
