#include "sidecar/http/http_parser.h"

#include <gtest/gtest.h>

namespace tidemark::http {
namespace {

struct Parsed {
  Parse result;
  RequestHead head;
  size_t consumed = 0;
  ParseError error;
};

Parsed parse(std::string_view in, size_t max = 64 * 1024) {
  Parsed p;
  p.result = parseHead(in, max, p.head, p.consumed, p.error);
  return p;
}

TEST(HttpParserTest, ShouldSplitTheTargetAndLowerCaseHeaderNames) {
  const std::string in =
      "PUT /v1/state/a%2Fb?view=staged&x=1 HTTP/1.1\r\nHost: h\r\nIf-Match:  \"e\" \r\n"
      "Content-Length: 5\r\n\r\nhello";
  Parsed p = parse(in);
  ASSERT_EQ(p.result, Parse::kDone);
  EXPECT_EQ(p.consumed, in.size() - 5);
  EXPECT_EQ(p.head.method, "PUT");
  EXPECT_EQ(p.head.path, "/v1/state/a%2Fb");
  EXPECT_EQ(p.head.query, "view=staged&x=1");
  EXPECT_EQ(p.head.headers.at("if-match"), "\"e\"");
  EXPECT_EQ(p.head.content_length, 5u);
  EXPECT_TRUE(p.head.keep_alive);
}

TEST(HttpParserTest, ShouldAskForMoreBytesUntilTheEmptyLineArrives) {
  const std::string in = "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n";
  for (size_t n = 0; n < in.size(); ++n) {
    EXPECT_EQ(parse(in.substr(0, n)).result, Parse::kIncomplete) << n;
  }
  EXPECT_EQ(parse(in).result, Parse::kDone);
}

TEST(HttpParserTest, ShouldAcceptBareLineFeedsAndSkipLeadingEmptyLines) {
  Parsed p = parse("\r\n\nGET / HTTP/1.1\nHost: h\n\n");
  ASSERT_EQ(p.result, Parse::kDone);
  EXPECT_EQ(p.head.path, "/");
}

TEST(HttpParserTest, ShouldCloseAfterTheAnswerForHttp10UnlessAskedToKeepAlive) {
  EXPECT_FALSE(parse("GET / HTTP/1.0\r\n\r\n").head.keep_alive);
  EXPECT_TRUE(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").head.keep_alive);
  EXPECT_FALSE(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").head.keep_alive);
}

TEST(HttpParserTest, ShouldNoticeExpectContinueAndChunkedBodies) {
  Parsed p = parse("PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nTransfer-Encoding: Chunked\r\n\r\n");
  ASSERT_EQ(p.result, Parse::kDone);
  EXPECT_TRUE(p.head.expect_continue);
  EXPECT_TRUE(p.head.chunked);
}

struct Refusal {
  const char* request;
  int status;
};

class HttpParserRefusalTest : public testing::TestWithParam<Refusal> {};

TEST_P(HttpParserRefusalTest, ShouldRefuseWithItsStatus) {
  Parsed p = parse(GetParam().request);
  ASSERT_EQ(p.result, Parse::kError) << GetParam().request;
  EXPECT_EQ(p.error.status, GetParam().status) << p.error.message;
  EXPECT_FALSE(p.error.message.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Framing, HttpParserRefusalTest,
    testing::Values(
        // Request smuggling guards: where a request ends must be unambiguous.
        Refusal{"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        Refusal{"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
        Refusal{"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n", 400},
        Refusal{"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
        Refusal{"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
        Refusal{"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        Refusal{"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400},
        Refusal{"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
        Refusal{"GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", 400},
        // The request line.
        Refusal{"GET / HTTP/2.0\r\n\r\n", 505}, Refusal{"GET / HTTP/1.2\r\n\r\n", 505},
        Refusal{"GET / HTTQ/1.1\r\n\r\n", 400}, Refusal{"GET  / HTTP/1.1\r\n\r\n", 400},
        Refusal{"GET http://x/ HTTP/1.1\r\n\r\n", 400}, Refusal{"G@T / HTTP/1.1\r\n\r\n", 400},
        Refusal{"GET /a\x7f HTTP/1.1\r\n\r\n", 400}, Refusal{"GET /\r\n\r\n", 400}));

TEST(HttpParserTest, ShouldRefuseAHeadLargerThanTheLimitEvenWhenIncomplete) {
  std::string in = "GET / HTTP/1.1\r\nX: " + std::string(200, 'a');
  EXPECT_EQ(parse(in, 100).result, Parse::kError);
  EXPECT_EQ(parse(in, 100).error.status, 431);
  EXPECT_EQ(parse(in + "\r\n\r\n", 100).error.status, 431);
}

TEST(HttpParserTest, ShouldJoinRepeatedHeaders) {
  Parsed p = parse("GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
  ASSERT_EQ(p.result, Parse::kDone);
  EXPECT_EQ(p.head.headers.at("x-a"), "1, 2");
}

// ---- chunked bodies

TEST(ChunkedDecoderTest, ShouldDecodeChunksFedOneByteAtATime) {
  const std::string in = "5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  ChunkedDecoder d(1024);
  std::string body;
  ParseError error;
  size_t fed = 0, consumed = 0;
  std::string pending;
  Parse r = Parse::kIncomplete;
  while (r == Parse::kIncomplete && fed < in.size()) {
    pending.push_back(in[fed++]);
    r = d.feed(pending, consumed, body, error);
    pending.erase(0, consumed);
  }
  ASSERT_EQ(r, Parse::kDone) << error.message;
  EXPECT_EQ(body, "hello, world!!!");
  EXPECT_EQ(in.substr(fed), "NEXT");
}

TEST(ChunkedDecoderTest, ShouldRefuseABodyBeyondTheLimitFromTheChunkSize) {
  ChunkedDecoder d(10);
  std::string body;
  ParseError error;
  size_t consumed = 0;
  EXPECT_EQ(d.feed("8\r\n12345678\r\n8\r\n", consumed, body, error), Parse::kError);
  EXPECT_EQ(error.status, 413);
}

TEST(ChunkedDecoderTest, ShouldRefuseMalformedChunks) {
  for (const char* in : {"zz\r\n", "5\r\nhello!\r\n", "1234567890123456\r\n"}) {
    ChunkedDecoder d(1 << 20);
    std::string body;
    ParseError error;
    size_t consumed = 0;
    EXPECT_EQ(d.feed(in, consumed, body, error), Parse::kError) << in;
    EXPECT_EQ(error.status, 400) << in;
  }
}

}  // namespace
}  // namespace tidemark::http
