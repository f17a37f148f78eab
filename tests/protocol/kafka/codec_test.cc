// The generated codec's contract, for every API the sidecar decodes, every
// version in its range, requests and responses: encode∘decode is the identity
// on bytes, every truncation is an error (never a crash or a partial success),
// and trailing bytes are left for the framing layer.

#include <gtest/gtest.h>

#include "protocol/kafka/messages.h"
#include "protocol/kafka/testing.h"

namespace tidemark::kafka {
namespace {

constexpr int kSeedsPerVersion = 40;

struct Case {
  const ApiInfo* api;
  int16_t version;
  bool request;
};

std::vector<Case> allCases() {
  std::vector<Case> out;
  for (const ApiInfo& api : kApis) {
    for (int16_t v = api.min_version; v <= api.max_version; ++v) {
      out.push_back({&api, v, true});
      out.push_back({&api, v, false});
    }
  }
  return out;
}

std::string caseName(const Case& c) {
  return std::string(c.api->name) + (c.request ? "Request" : "Response") + " v" +
         std::to_string(c.version);
}

TEST(CodecRoundTripTest, ShouldReencodeEveryApiVersionAndDirectionByteForByte) {
  size_t checked = 0;
  for (const Case& c : allCases()) {
    for (int seed = 0; seed < kSeedsPerVersion; ++seed) {
      testing::Rng rng(seed * 7919 + c.version);
      std::string body;
      ASSERT_TRUE(testing::randomBody(c.api->key, c.version, c.request, rng, &body).isOk())
          << caseName(c);
      auto again = roundTrip(c.api->key, c.version, c.request, body);
      ASSERT_TRUE(again.isOk()) << caseName(c) << " seed " << seed << ": "
                                << again.status().message();
      ASSERT_EQ(*again, body) << caseName(c) << " seed " << seed;
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000u);
}

TEST(CodecRoundTripTest, ShouldFailCleanlyOnEveryTruncationAsWhenFedByteByByte) {
  for (const Case& c : allCases()) {
    for (int seed = 0; seed < 3; ++seed) {
      testing::Rng rng(seed + 1);
      std::string body;
      ASSERT_TRUE(testing::randomBody(c.api->key, c.version, c.request, rng, &body).isOk());
      for (size_t len = 0; len < body.size(); ++len) {
        auto partial = decodePrefix(c.api->key, c.version, c.request, body.substr(0, len));
        ASSERT_FALSE(partial.isOk())
            << caseName(c) << " accepted " << len << " of " << body.size() << " bytes";
      }
      auto whole = decodePrefix(c.api->key, c.version, c.request, body);
      ASSERT_TRUE(whole.isOk()) << caseName(c) << ": " << whole.status().message();
      EXPECT_EQ(*whole, body.size());
    }
  }
}

TEST(CodecRoundTripTest, ShouldConsumeExactlyTheMessageWhenTrailingBytesFollow) {
  for (const Case& c : allCases()) {
    testing::Rng rng(99);
    std::string body;
    ASSERT_TRUE(testing::randomBody(c.api->key, c.version, c.request, rng, &body).isOk());
    std::string padded = body + std::string("\xde\xad\xbe\xef\x00\x01", 6);
    auto used = decodePrefix(c.api->key, c.version, c.request, padded);
    ASSERT_TRUE(used.isOk()) << caseName(c) << ": " << used.status().message();
    EXPECT_EQ(*used, body.size()) << caseName(c);
    // A whole-body parse treats them as an error: the proxy never drops bytes silently.
    EXPECT_FALSE(roundTrip(c.api->key, c.version, c.request, padded).isOk()) << caseName(c);
  }
}

TEST(CodecRegistryTest, ShouldListEachApiOnceWithItsVersions) {
  std::set<int16_t> keys;
  for (const ApiInfo& api : kApis) {
    EXPECT_TRUE(keys.insert(api.key).second) << api.name;
    EXPECT_LE(api.min_version, api.max_version) << api.name;
    EXPECT_EQ(findApi(api.key), &api);
  }
  EXPECT_EQ(findApi(9999), nullptr);
  const ApiInfo* metadata = findApi(3);
  ASSERT_NE(metadata, nullptr);
  EXPECT_STREQ(metadata->name, "Metadata");
  EXPECT_EQ(metadata->max_version, 12);
  EXPECT_EQ(metadata->first_flexible, 9);
}

TEST(CodecRegistryTest, ShouldRefuseVersionsOutsideTheDecodedRange) {
  EXPECT_FALSE(roundTrip(3, 13, false, "").isOk());
  EXPECT_FALSE(roundTrip(3, -1, true, "").isOk());
  EXPECT_FALSE(roundTrip(4242, 0, true, "").isOk());
}

TEST(MetadataCodecTest, ShouldDecodeKnownFieldsAndDefaultsByVersion) {
  MetadataResponse m;
  m.brokers.push_back({1, "kafka-0", 9092, std::string("rack-a"), {}});
  m.controller_id = 1;
  auto v0 = m.serialize(0);
  ASSERT_TRUE(v0.isOk());
  MetadataResponse back;
  ASSERT_TRUE(back.parse(*v0, 0).isOk());
  ASSERT_EQ(back.brokers.size(), 1u);
  EXPECT_EQ(back.brokers[0].host, "kafka-0");
  EXPECT_EQ(back.brokers[0].rack, std::nullopt);  // not on the wire in v0: default null
  EXPECT_EQ(back.controller_id, -1);              // not on the wire in v0: default -1
}

TEST(FetchCodecTest, ShouldKeepRecordsAsAViewIntoTheFrame) {
  FetchResponse f;
  f.responses.emplace_back();
  f.responses[0].topic = "t";
  f.responses[0].partitions.emplace_back();
  f.responses[0].partitions[0].records = std::string_view("RECORDBYTES");
  auto body = f.serialize(11);
  ASSERT_TRUE(body.isOk());
  FetchResponse back;
  ASSERT_TRUE(back.parse(*body, 11).isOk());
  const auto& records = *back.responses[0].partitions[0].records;
  EXPECT_EQ(records, "RECORDBYTES");
  EXPECT_GE(records.data(), body->data());
  EXPECT_LT(records.data(), body->data() + body->size());
}

TEST(FetchCodecTest, ShouldOmitTaggedFieldsAtTheirDefault) {
  FetchResponse f;
  auto plain = f.serialize(16);
  ASSERT_TRUE(plain.isOk());
  f.node_endpoints.push_back({2, "kafka-1", 9092, std::nullopt, {}});
  auto tagged = f.serialize(16);
  ASSERT_TRUE(tagged.isOk());
  EXPECT_GT(tagged->size(), plain->size());
  EXPECT_EQ(plain->back(), '\0');  // empty top-level tagged section
  FetchResponse back;
  ASSERT_TRUE(back.parse(*tagged, 16).isOk());
  ASSERT_EQ(back.node_endpoints.size(), 1u);
  EXPECT_EQ(back.node_endpoints[0].host, "kafka-1");
}

}  // namespace
}  // namespace tidemark::kafka

namespace tidemark::kafka {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

// Hand-assembled from the protocol guide, independent of the generator.
TEST(WireFormatTest, ShouldEncodeANullTopicListAsMinusOneInClassicVersions) {
  MetadataRequest m;
  m.topics = std::nullopt;
  EXPECT_EQ(*m.serialize(1), bytes({0xff, 0xff, 0xff, 0xff}));
}

TEST(WireFormatTest, ShouldUseCompactFormsAndTaggedSectionsInFlexibleVersions) {
  MetadataRequest m;
  m.topics.emplace();
  m.topics->push_back({Uuid{}, std::string("a"), {}});
  m.allow_auto_topic_creation = true;
  std::string expected = bytes({0x02});         // compact array: 1 element
  expected += std::string(16, '\0');            // topic_id (v10+)
  expected += bytes({0x02, 'a', 0x00});         // compact name, element tags
  expected += bytes({0x01, 0x00, 0x00, 0x00});  // bools, body tags
  EXPECT_EQ(*m.serialize(10), expected);
}

TEST(WireFormatTest, ShouldWriteUnknownTaggedFieldsBackInTagOrder) {
  std::string body = bytes({0x00, 0x00, 0x00, 0x00,  // throttle_time_ms
                            0x01,                    // compact coordinators: 0 elements
                            0x02,                    // two tagged fields
                            0x05, 0x01, 'x',         // tag 5
                            0x09, 0x02, 'y', 'z'});  // tag 9
  FindCoordinatorResponse r;
  ASSERT_TRUE(r.parse(body, 4).isOk());
  ASSERT_EQ(r.unknown_tags.size(), 2u);
  EXPECT_EQ(*r.serialize(4), body);
  std::string out_of_order = body;
  out_of_order[6] = 0x0a;  // tag 10 before tag 9
  EXPECT_FALSE(r.parse(out_of_order, 4).isOk());
}

TEST(WireFormatTest, ShouldRejectAnArrayCountLargerThanTheBytesLeft) {
  std::string body = bytes({0x7f, 0xff, 0xff, 0xff});  // 2^31-1 topics, no bytes
  MetadataRequest m;
  Status s = m.parse(body, 1);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("exceeds"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace tidemark::kafka
