#include "sidecar/proxy/rewriter.h"

#include <gtest/gtest.h>

#include <set>

#include "protocol/kafka/testing.h"

namespace tidemark::proxy {
namespace {

using namespace kafka;

class RewriterTest : public ::testing::Test {
 protected:
  std::vector<int32_t> new_nodes_;
  BrokerMap brokers_{"127.0.0.1", 19100, [this](int32_t id) { new_nodes_.push_back(id); }};
  TopicCache topics_;
  RewriteContext ctx_{brokers_, topics_};

  template <typename M>
  M rewritten(const M& in, int16_t version) {
    auto body = in.serialize(version);
    EXPECT_TRUE(body.isOk()) << body.status().message();
    auto out = rewriteResponse(M::kApiKey, version, *body, ctx_);
    EXPECT_TRUE(out.isOk()) << out.status().message();
    M m;
    EXPECT_TRUE(m.parse(out->has_value() ? **out : *body, version).isOk());
    return m;
  }
};

TEST_F(RewriterTest, ShouldAdvertiseEveryMetadataBrokerOnItsOwnListenerInEveryVersion) {
  for (int16_t v = 0; v <= 12; ++v) {
    MetadataResponse m;
    m.brokers.push_back({1, "kafka-0.internal", 9092, std::nullopt, {}});
    m.brokers.push_back({7, "kafka-6.internal", 9093, std::nullopt, {}});
    auto out = rewritten(m, v);
    ASSERT_EQ(out.brokers.size(), 2u);
    EXPECT_EQ(out.brokers[0].host, "127.0.0.1");
    EXPECT_EQ(out.brokers[0].port, 19101);
    EXPECT_EQ(out.brokers[1].port, 19107);
  }
  EXPECT_EQ(new_nodes_, (std::vector<int32_t>{1, 7}));  // listeners opened once per node
  EXPECT_EQ(brokers_.upstream(7)->host, "kafka-6.internal");
  EXPECT_EQ(brokers_.upstream(7)->port, 9093);
}

TEST_F(RewriterTest, ShouldLearnTopicIdsFromMetadata) {
  MetadataResponse m;
  MetadataResponse::Topic t;
  t.name = "orders.v1";
  t.topic_id = Uuid{1, 2, 3};
  m.topics.push_back(t);
  rewritten(m, 12);
  EXPECT_EQ(topics_.name(Uuid{1, 2, 3}), "orders.v1");
}

// Where a Metadata body's brokers section ends: the throttle time (v3+) and
// the brokers array.
size_t metadataBrokersEnd(std::string_view body, int16_t v) {
  const bool flexible = v >= 9;
  Reader r(body);
  if (v >= 3) r.readInt32();
  const int32_t count = r.readArrayLength(flexible);
  for (int32_t i = 0; i < count; ++i) MetadataResponse::Broker{}.decode(r, v, flexible);
  EXPECT_TRUE(r.ok());
  return r.consumed();
}

// Only the brokers hold addresses; the rest of the body is the client's to read
// and reaches it byte for byte, even where the sidecar could not decode it.
TEST_F(RewriterTest, ShouldForwardWhatFollowsTheMetadataBrokersAsItCame) {
  MetadataResponse m;
  m.brokers.push_back({1, "kafka-0.internal", 9092, std::string("rack-a"), {}});
  m.cluster_id = "cluster";
  m.controller_id = 1;
  MetadataResponse::Topic t;
  t.name = "orders";
  t.partitions.push_back({0, 3, 1, 0, {1}, {1}, {}, {}});
  m.topics.push_back(t);
  for (int16_t v : {1, 4, 9, 12}) {
    const std::string body = *m.serialize(v);
    const std::string truncated = body.substr(0, body.size() - 3);
    for (const std::string& in : {body, truncated}) {
      auto out = rewriteResponse(3, v, in, ctx_);
      ASSERT_TRUE(out.isOk()) << "v" << v << ": " << out.status().message();
      ASSERT_TRUE(out->has_value());
      const std::string& rewritten_body = **out;
      EXPECT_EQ(rewritten_body.substr(metadataBrokersEnd(rewritten_body, v)),
                in.substr(metadataBrokersEnd(in, v)))
          << "v" << v;
      EXPECT_EQ(rewritten_body.find("kafka-0.internal"), std::string::npos) << "v" << v;
    }
    MetadataResponse back;
    ASSERT_TRUE(back.parse(**rewriteResponse(3, v, body, ctx_), v).isOk()) << "v" << v;
    EXPECT_EQ(back.brokers[0].host, "127.0.0.1");
    ASSERT_EQ(back.topics.size(), 1u);
    EXPECT_EQ(back.topics[0].partitions[0].leader_id, 1);
  }
}

TEST_F(RewriterTest, ShouldRewriteASingleCoordinatorAndLeaveAnErrorAnswerAlone) {
  FindCoordinatorResponse ok;
  ok.node_id = 2;
  ok.host = "kafka-1";
  ok.port = 9092;
  auto out = rewritten(ok, 3);
  EXPECT_EQ(out.host, "127.0.0.1");
  EXPECT_EQ(out.port, 19102);
  FindCoordinatorResponse err;
  err.error_code = 15;  // COORDINATOR_NOT_AVAILABLE
  err.node_id = -1;
  err.port = -1;
  auto same = rewritten(err, 2);
  EXPECT_EQ(same.node_id, -1);
  EXPECT_EQ(same.port, -1);
}

TEST_F(RewriterTest, ShouldRewriteEveryBatchedCoordinator) {
  FindCoordinatorResponse m;
  m.coordinators.push_back({"group-a", 1, "kafka-0", 9092, 0, std::nullopt, {}});
  m.coordinators.push_back({"group-b", 3, "kafka-2", 9092, 0, std::nullopt, {}});
  auto out = rewritten(m, 4);
  EXPECT_EQ(out.coordinators[0].port, 19101);
  EXPECT_EQ(out.coordinators[1].port, 19103);
  EXPECT_EQ(out.coordinators[1].host, "127.0.0.1");
}

TEST_F(RewriterTest, ShouldRewriteDescribeClusterBrokersAndNeverLeakControllers) {
  DescribeClusterResponse m;
  m.brokers.push_back({4, "kafka-3", 9092, std::nullopt, {}});
  auto out = rewritten(m, 0);
  EXPECT_EQ(out.brokers[0].port, 19104);
  DescribeClusterResponse controllers;
  controllers.endpoint_type = 2;
  controllers.brokers.push_back({3000, "controller-0", 9093, std::nullopt, {}});
  auto c = rewritten(controllers, 1);
  EXPECT_EQ(c.brokers[0].host, "127.0.0.1");
  EXPECT_EQ(c.brokers[0].port, 0);
  EXPECT_FALSE(brokers_.upstream(3000).has_value());
}

TEST_F(RewriterTest, ShouldRewriteNodeEndpointsInFetchAndProduceResponses) {
  FetchResponse f;
  f.node_endpoints.push_back({5, "kafka-4", 9092, std::nullopt, {}});
  EXPECT_EQ(rewritten(f, 16).node_endpoints[0].port, 19105);
  ProduceResponse p;
  p.node_endpoints.push_back({6, "kafka-5", 9092, std::nullopt, {}});
  EXPECT_EQ(rewritten(p, 10).node_endpoints[0].port, 19106);
}

TEST_F(RewriterTest, ShouldForwardFetchUnchangedWhenItCarriesNoEndpoints) {
  FetchResponse f;
  auto body = f.serialize(16);
  auto out = rewriteResponse(1, 16, *body, ctx_);
  ASSERT_TRUE(out.isOk());
  EXPECT_FALSE(out->has_value());
  EXPECT_FALSE(mustInspectResponse(1, 15));
  EXPECT_TRUE(mustInspectResponse(1, 16));
  EXPECT_FALSE(mustInspectResponse(0, 9));
  EXPECT_TRUE(mustInspectResponse(0, 10));
}

TEST_F(RewriterTest, ShouldNeverAdvertiseAPortOutsideTheValidRange) {
  BrokerMap high("127.0.0.1", 65000, nullptr);
  EXPECT_EQ(high.learn(1000, "kafka", 9092).port, 0);
  EXPECT_FALSE(high.upstream(1000).has_value());
  EXPECT_EQ(high.learn(535, "kafka", 9092).port, 65535);
}

TEST_F(RewriterTest, ShouldRejectAResponseItCannotDecode) {
  auto out = rewriteResponse(3, 1, "\x00\x00\x00\x05garbage", ctx_);
  EXPECT_FALSE(out.isOk());
}

// Whatever upstream says, in any version, the client sees only the sidecar's host.
TEST_F(RewriterTest, ShouldNeverLeakAnUpstreamHostForRandomResponses) {
  for (int seed = 0; seed < 50; ++seed) {
    testing::Rng rng(seed);
    for (int16_t v = 0; v <= 12; ++v) {
      MetadataResponse m;
      testing::randomize(m, v, v >= 9, rng);
      for (const auto& b : rewritten(m, v).brokers) EXPECT_EQ(b.host, "127.0.0.1");
    }
    for (int16_t v = 0; v <= 5; ++v) {
      FindCoordinatorResponse m;
      testing::randomize(m, v, v >= 3, rng);
      auto out = rewritten(m, v);
      if (v <= 3 && out.node_id >= 0) {
        EXPECT_EQ(out.host, "127.0.0.1");
      }
      for (const auto& c : out.coordinators) {
        if (c.node_id >= 0) {
          EXPECT_EQ(c.host, "127.0.0.1");
        }
      }
    }
    FetchResponse f;
    testing::randomize(f, 16, true, rng);
    for (const auto& e : rewritten(f, 16).node_endpoints) EXPECT_EQ(e.host, "127.0.0.1");
  }
}

TEST(ApiVersionsClampTest, ShouldIntersectDecodedApisAndKeepOthersAsUpstreamSays) {
  ApiVersionsResponse r;
  r.api_keys = {{3, 0, 13, {}},   // Metadata: broker newer than us -> 0..12
                {8, 2, 9, {}},    // OffsetCommit: within range -> unchanged
                {68, 0, 0, {}},   // ConsumerGroupHeartbeat: hidden
                {17, 0, 1, {}},   // SaslHandshake: v0 removed
                {42, 0, 2, {}},   // DeleteGroups: not decoded -> as upstream
                {60, 5, 7, {}}};  // DescribeCluster: no overlap with 0..1 -> dropped
  clampApiVersions(r);
  std::map<int16_t, std::pair<int16_t, int16_t>> got;
  for (const auto& e : r.api_keys) got[e.api_key] = {e.min_version, e.max_version};
  EXPECT_EQ(got, (std::map<int16_t, std::pair<int16_t, int16_t>>{
                     {3, {0, 12}}, {8, {2, 9}}, {17, {1, 1}}, {42, {0, 2}}}));
}

TEST(ApiVersionsClampTest, ShouldPassAnUnsupportedVersionAnswerThrough) {
  BrokerMap brokers("127.0.0.1", 19100, nullptr);
  TopicCache topics;
  RewriteContext ctx{brokers, topics};
  // librdkafka 2.0.2's mock answers ApiVersions v3 with this (neither v0 nor v3).
  std::string body("\x00\x23\x01\x00\x12\x00\x00\x00\x02\x00\x00\x00\x00", 13);
  auto out = rewriteResponse(18, 3, body, ctx);
  ASSERT_TRUE(out.isOk());
  EXPECT_FALSE(out->has_value());
}

TEST(ApiVersionsClampTest, ShouldAnswerTooNewRequestsWithItsOwnRangeInV0) {
  ApiVersionsResponse r;
  ASSERT_TRUE(r.parse(unsupportedApiVersionsBody(), 0).isOk());
  EXPECT_EQ(r.error_code, 35);
  ASSERT_EQ(r.api_keys.size(), 1u);
  EXPECT_EQ(r.api_keys[0].api_key, 18);
  EXPECT_EQ(r.api_keys[0].max_version, 3);
}

}  // namespace
}  // namespace tidemark::proxy

namespace tidemark::proxy {
namespace {

// librdkafka 2.15.1's mock ends Metadata v12 responses with a second empty tag
// section; Kafka's readers ignore such bytes. The proxy keeps them.
TEST(RewriterTrailingBytesTest, ShouldRewriteAndKeepBytesThatFollowTheMessage) {
  BrokerMap brokers("127.0.0.1", 19100, nullptr);
  TopicCache topics;
  RewriteContext ctx{brokers, topics};
  kafka::MetadataResponse m;
  m.brokers.push_back({1, "kafka-0", 9092, std::nullopt, {}});
  std::string body = *m.serialize(12) + std::string(1, '\0');
  auto out = rewriteResponse(3, 12, body, ctx);
  ASSERT_TRUE(out.isOk()) << out.status().message();
  ASSERT_TRUE(out->has_value());
  EXPECT_EQ((*out)->back(), '\0');
  kafka::MetadataResponse back;
  kafka::Reader r(**out);
  back.decode(r, 12, true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 1u);
  EXPECT_EQ(back.brokers[0].port, 19101);
}

}  // namespace
}  // namespace tidemark::proxy
