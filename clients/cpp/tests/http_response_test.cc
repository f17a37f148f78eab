#include "http_response.h"

#include <gtest/gtest.h>

namespace tidemark::detail {
namespace {

using namespace std::string_literals;

struct Fed {
  ParseStatus status;
  size_t consumed;
};

// Feeds `bytes` in pieces of `step` bytes (the whole at once when 0), as a
// socket might deliver them; stops at the first non-kIncomplete status.
Fed feedAll(ResponseParser& p, std::string_view bytes, size_t step = 0) {
  size_t total = 0;
  if (step == 0) step = bytes.size() == 0 ? 1 : bytes.size();
  for (size_t pos = 0; pos < bytes.size(); pos += step) {
    size_t consumed = 0;
    const std::string_view piece = bytes.substr(pos, step);
    const ParseStatus s = p.feed(piece, consumed);
    total += consumed;
    if (s != ParseStatus::kIncomplete) return {s, total};
    EXPECT_EQ(consumed, piece.size());
  }
  return {ParseStatus::kIncomplete, total};
}

class ByteByByte : public ::testing::TestWithParam<size_t> {};

TEST_P(ByteByByte, ShouldReadContentLengthBodyAndLeaveNextBytesWhenAnswerIsComplete) {
  const std::string answer =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nETag:  \"abc\" \r\nContent-Length: 5\r\n\r\n"
      "hello";
  ResponseParser p;
  const Fed f = feedAll(p, answer + "HTTP/1.1 204", GetParam());
  ASSERT_EQ(f.status, ParseStatus::kDone) << p.error();
  EXPECT_EQ(f.consumed, answer.size());
  EXPECT_EQ(p.response().status, 200);
  EXPECT_EQ(p.response().body, "hello");
  EXPECT_EQ(p.response().header("content-type"), "text/plain");
  EXPECT_EQ(p.response().header("etag"), "\"abc\"");
  EXPECT_TRUE(p.response().keep_alive);
}

TEST_P(ByteByByte, ShouldJoinChunksAndSkipExtensionsAndTrailersWhenAnswerIsChunked) {
  const std::string answer =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "1\r\n \r\n"
      "B\r\n\x00\x01\x02world\xff\r\n\r\n"
      "0\r\nX-Trailer: yes\r\n\r\n"s;
  ResponseParser p;
  const Fed f = feedAll(p, answer + "junk", GetParam());
  ASSERT_EQ(f.status, ParseStatus::kDone) << p.error();
  EXPECT_EQ(f.consumed, answer.size());
  EXPECT_EQ(p.response().body, std::string("hello \x00\x01\x02world\xff\r\n", 17));
  EXPECT_TRUE(p.response().keep_alive);
}

INSTANTIATE_TEST_SUITE_P(Steps, ByteByByte, ::testing::Values(0, 1, 2, 7));

TEST(ResponseParserTest, ShouldCompleteWithoutBodyWhenStatusIs204) {
  ResponseParser p;
  const std::string answer = "HTTP/1.1 204 No Content\r\nETag: \"e\"\r\n\r\n";
  const Fed f = feedAll(p, answer);
  ASSERT_EQ(f.status, ParseStatus::kDone);
  EXPECT_EQ(f.consumed, answer.size());
  EXPECT_EQ(p.response().status, 204);
  EXPECT_EQ(p.response().body, "");
}

TEST(ResponseParserTest, ShouldSkipInterimAnswerWhenServerSends100Continue) {
  ResponseParser p;
  const Fed f = feedAll(
      p, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 3);
  ASSERT_EQ(f.status, ParseStatus::kDone) << p.error();
  EXPECT_EQ(p.response().status, 201);
  EXPECT_EQ(p.response().body, "ok");
}

TEST(ResponseParserTest, ShouldNotKeepAliveWhenServerSaysConnectionClose) {
  ResponseParser p;
  ASSERT_EQ(feedAll(p, "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n").status,
            ParseStatus::kDone);
  EXPECT_FALSE(p.response().keep_alive);
}

TEST(ResponseParserTest, ShouldKeepAliveOnlyWhenAskedWhenVersionIs10) {
  ResponseParser plain;
  ASSERT_EQ(feedAll(plain, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").status,
            ParseStatus::kDone);
  EXPECT_FALSE(plain.response().keep_alive);
  ResponseParser asked;
  ASSERT_EQ(feedAll(asked, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
                .status,
            ParseStatus::kDone);
  EXPECT_TRUE(asked.response().keep_alive);
}

TEST(ResponseParserTest, ShouldReadUntilCloseWhenAnswerHasNoLength) {
  ResponseParser p;
  EXPECT_EQ(feedAll(p, "HTTP/1.1 200 OK\r\n\r\npart one, ", 4).status, ParseStatus::kIncomplete);
  EXPECT_EQ(feedAll(p, "part two").status, ParseStatus::kIncomplete);
  ASSERT_EQ(p.finish(), ParseStatus::kDone);
  EXPECT_EQ(p.response().body, "part one, part two");
  EXPECT_FALSE(p.response().keep_alive);
}

TEST(ResponseParserTest, ShouldFailWhenConnectionClosesMidBody) {
  ResponseParser p;
  EXPECT_EQ(feedAll(p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").status,
            ParseStatus::kIncomplete);
  EXPECT_TRUE(p.started());
  EXPECT_EQ(p.finish(), ParseStatus::kError);
  EXPECT_NE(p.error().find("middle"), std::string::npos) << p.error();
}

TEST(ResponseParserTest, ShouldReportNotStartedWhenConnectionClosesBeforeAnyByte) {
  ResponseParser p;
  EXPECT_FALSE(p.started());
  EXPECT_EQ(p.finish(), ParseStatus::kError);
  EXPECT_NE(p.error().find("before an answer"), std::string::npos) << p.error();
}

TEST(ResponseParserTest, ShouldFailWhenFramingIsMalformed) {
  for (const char* bad : {
           "HTTP/2 200 OK\r\n\r\n",
           "HTTP/1.1 2000 OK\r\n\r\n",
           "ICY 200 OK\r\n\r\n",
           "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
           "HTTP/1.1 200 OK\r\n folded: header\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
           "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
           "HTTP/1.1 101 Switching Protocols\r\n\r\n",
       }) {
    ResponseParser p;
    EXPECT_EQ(feedAll(p, bad).status, ParseStatus::kError) << bad;
    EXPECT_FALSE(p.error().empty()) << bad;
  }
}

TEST(ResponseParserTest, ShouldFailWhenHeadNeverEnds) {
  ResponseParser p;
  const std::string endless = "HTTP/1.1 200 OK\r\nX: " + std::string(70 * 1024, 'a');
  EXPECT_EQ(feedAll(p, endless, 4096).status, ParseStatus::kError);
}

TEST(ResponseParserTest, ShouldAcceptEqualDuplicateContentLengthsWhenRepeated) {
  ResponseParser p;
  ASSERT_EQ(feedAll(p, "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok").status,
            ParseStatus::kDone)
      << p.error();
  EXPECT_EQ(p.response().body, "ok");
}

}  // namespace
}  // namespace tidemark::detail
