#include "sidecar/config/scalars.h"

#include <gtest/gtest.h>

namespace tidemark::config {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1'000 * kMs;

TEST(DurationTest, ShouldParseSingleAndChainedUnits) {
  EXPECT_EQ(*parseDuration("60s"), 60 * kSec);
  EXPECT_EQ(*parseDuration("250ms"), 250 * kMs);
  EXPECT_EQ(*parseDuration("1m30s"), 90 * kSec);
  EXPECT_EQ(*parseDuration("2h"), 7200 * kSec);
  EXPECT_EQ(*parseDuration("15us"), 15'000);
  EXPECT_EQ(*parseDuration("7ns"), 7);
}

TEST(DurationTest, ShouldRejectNegativeBareAndUnknownUnits) {
  for (const char* bad : {"-5s", "60", "", "5 s", "5sec", "1.5s", "s", "ms5"}) {
    EXPECT_FALSE(parseDuration(bad).isOk()) << bad;
  }
}

TEST(DurationTest, ShouldRejectOverflowInsteadOfWrapping) {
  EXPECT_FALSE(parseDuration("9999999999999h").isOk());
  EXPECT_FALSE(parseDuration("99999999999999999999s").isOk());
}

TEST(DurationTest, ShouldFormatInTheLargestExactUnit) {
  EXPECT_EQ(formatDuration(90 * kSec), "90s");
  EXPECT_EQ(formatDuration(60 * kSec), "1m");
  EXPECT_EQ(formatDuration(250 * kMs), "250ms");
  EXPECT_EQ(formatDuration(0), "0s");
  EXPECT_EQ(*parseDuration(formatDuration(1234567)), 1234567);
}

TEST(BytesTest, ShouldParseBinaryAndDecimalUnits) {
  EXPECT_EQ(*parseBytes("4096"), 4096u);
  EXPECT_EQ(*parseBytes("64KiB"), 64u << 10);
  EXPECT_EQ(*parseBytes("100MiB"), 100u << 20);
  EXPECT_EQ(*parseBytes("1GiB"), 1u << 30);
  EXPECT_EQ(*parseBytes("2MB"), 2'000'000u);
  EXPECT_EQ(*parseBytes("5B"), 5u);
}

TEST(BytesTest, ShouldRejectFractionsNegativesAndUnknownUnits) {
  for (const char* bad : {"-1", "1.5MiB", "10mib", "MiB", "", "10 XB", "99999999999999TiB"}) {
    EXPECT_FALSE(parseBytes(bad).isOk()) << bad;
  }
}

TEST(BytesTest, ShouldFormatExactBinaryUnits) {
  EXPECT_EQ(formatBytes(64u << 20), "64MiB");
  EXPECT_EQ(formatBytes(1000), "1000");
}

TEST(HostPortTest, ShouldParseIpv4NamesAndBracketedIpv6) {
  auto a = parseHostPort("127.0.0.1:19092");
  ASSERT_TRUE(a.isOk());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 19092);
  auto b = parseHostPort("[::1]:0");
  ASSERT_TRUE(b.isOk());
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->toString(), "[::1]:0");
  EXPECT_TRUE(parseHostPort("kafka-0.kafka.svc:9092").isOk());
}

TEST(HostPortTest, ShouldRejectMissingPartsAndBadPorts) {
  for (const char* bad : {"foo", ":9092", "host:", "host:65536", "host:-1", "::1:9092", "[::1]9092",
                          "ho st:1", "host:90a"}) {
    EXPECT_FALSE(parseHostPort(bad).isOk()) << bad;
  }
}

TEST(HostPortTest, ShouldParseAListAndRejectEmptyItemsAndPortZero) {
  auto list = parseHostPortList("a:1, b:2,c:3");
  ASSERT_TRUE(list.isOk());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[1].host, "b");
  EXPECT_FALSE(parseHostPortList("a:1,,b:2").isOk());
  EXPECT_FALSE(parseHostPortList("").isOk());
  EXPECT_FALSE(parseHostPortList("a:0").isOk());
}

TEST(Utf8Test, ShouldFindTheFirstByteThatIsNotStrictUtf8) {
  EXPECT_EQ(firstInvalidUtf8("plain ascii"), std::nullopt);
  EXPECT_EQ(firstInvalidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), std::nullopt);
  EXPECT_EQ(firstInvalidUtf8("ab\xff"), 2u);            // never a lead byte
  EXPECT_EQ(firstInvalidUtf8("a\xc3"), 1u);             // cut short
  EXPECT_EQ(firstInvalidUtf8("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(firstInvalidUtf8("x\xed\xa0\x80"), 1u);     // a surrogate
  EXPECT_EQ(firstInvalidUtf8("\xf4\x90\x80\x80"), 0u);  // past U+10FFFF
  EXPECT_EQ(firstInvalidUtf8("\xe2\x28\xa1"), 0u);      // a bad continuation
}

}  // namespace
}  // namespace tidemark::config
