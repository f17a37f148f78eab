#include "encoding.h"

#include <gtest/gtest.h>

namespace tidemark::detail {
namespace {

TEST(EncodeKeyTest, ShouldEncodeEachSegmentAndKeepSlashesWhenKeyHasReservedCharacters) {
  // The conformance case's key: what the sidecar receives must decode to it.
  EXPECT_EQ(encodeKey("reserved/a:b@c/d=e+f~g"), "reserved/a%3Ab%40c/d%3De%2Bf~g");
}

TEST(EncodeKeyTest, ShouldLeaveUnreservedCharactersAloneWhenKeyIsPlain) {
  EXPECT_EQ(encodeKey("counts/word-1_a.b~c"), "counts/word-1_a.b~c");
}

TEST(EncodeKeyTest, ShouldPercentEncodeSpacesPercentAndQuestionMarkWhenPresent) {
  EXPECT_EQ(encodeKey("a b/c%d?e#f"), "a%20b/c%25d%3Fe%23f");
}

TEST(EncodeKeyTest, ShouldEncodeUtf8BytesWhenKeyIsNotAscii) {
  EXPECT_EQ(encodeKey("caf\xC3\xA9"), "caf%C3%A9");
}

TEST(EncodeKeyTest, ShouldKeepEmptyAndDotSegmentsWhenPresentSoTheSidecarJudgesThem) {
  EXPECT_EQ(encodeKey("a//b"), "a//b");
  EXPECT_EQ(encodeKey("invalid/../escape"), "invalid/../escape");
  EXPECT_EQ(encodeKey("/lead"), "/lead");
  EXPECT_EQ(encodeKey(""), "");
}

TEST(EncodeQueryTest, ShouldEncodeBothSidesWhenValuesHaveSeparators) {
  EXPECT_EQ(encodeQuery({}), "");
  EXPECT_EQ(encodeQuery({{"prefix", "a b&c=d+/"}, {"view", "staged"}}),
            "?prefix=a%20b%26c%3Dd%2B%2F&view=staged");
}

TEST(Base64Test, ShouldMatchRfc4648VectorsWhenEncoding) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Test, ShouldRoundTripEveryByteWhenValueIsBinary) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); n += 37) {
    const std::string bytes = all.substr(0, n) + std::string("\0\xff", 2);
    EXPECT_EQ(base64Decode(base64Encode(bytes)), bytes);
  }
}

TEST(Base64Test, ShouldDecodeConformanceValueWhenItHasNulAndHighBytes) {
  EXPECT_EQ(base64Decode("AAH/gMP+AA0KDQo="),
            std::string("\x00\x01\xff\x80\xc3\xfe\x00\r\n\r\n", 11));
}

TEST(Base64Test, ShouldRefuseWhenInputIsNotPaddedBase64) {
  for (const char* bad :
       {"Zg", "Zg=", "Z===", "=Zg=", "Zg=a", "Zm9v!A==", "Zm9vYg==Zm9v", "Zm 9v", "Zm9v\n"}) {
    EXPECT_EQ(base64Decode(bad), std::nullopt) << bad;
  }
}

TEST(ParseBaseUrlTest, ShouldSplitHostPortAndPrefixWhenUrlIsValid) {
  std::string why;
  auto url = parseBaseUrl("http://127.0.0.1:8770", why);
  ASSERT_TRUE(url) << why;
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8770);
  EXPECT_EQ(url->host_header, "127.0.0.1:8770");
  EXPECT_EQ(url->prefix, "");

  url = parseBaseUrl("http://localhost/sidecar/", why);
  ASSERT_TRUE(url) << why;
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->prefix, "/sidecar");

  url = parseBaseUrl("http://[::1]:9000/p", why);
  ASSERT_TRUE(url) << why;
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->host_header, "[::1]:9000");
  EXPECT_EQ(url->port, 9000);
}

TEST(ParseBaseUrlTest, ShouldRefuseWhenUrlIsNotPlainHttpHostPort) {
  for (const char* bad :
       {"https://127.0.0.1:8770", "127.0.0.1:8770", "http://", "http://:80", "http://h:0",
        "http://h:65536", "http://h:x", "http://h:", "http://h/?q", "http://u@h", "http://[::1"}) {
    std::string why;
    EXPECT_FALSE(parseBaseUrl(bad, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

}  // namespace
}  // namespace tidemark::detail
