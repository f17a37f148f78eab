#include "sidecar/proxy/offsets.h"

#include <gtest/gtest.h>

#include "protocol/kafka/messages.h"

namespace tidemark::proxy {
namespace {

// A fixed sealed view standing in for the coordinator: these are pure functions.
class FixedOffsets : public OffsetHooks {
 public:
  std::map<PartitionId, CommittedOffset> sealed;
  CommitMode commitMode() const override { return CommitMode::kCheckpoint; }
  uint64_t commit(const std::map<PartitionId, CommittedOffset>&) override { return 0; }
  std::optional<CommittedOffset> sealedOffset(const PartitionId& id) const override {
    auto it = sealed.find(id);
    return it == sealed.end() ? std::nullopt : std::optional<CommittedOffset>(it->second);
  }
  void whenDurable(uint64_t, std::function<void(bool)>) override {}
  void checkpointNow(const std::string&, std::function<void(bool)>) override {}
  void stageTxnOffsets(const std::string&, const std::map<PartitionId, CommittedOffset>&) override {
  }
  void endTxn(const std::string&, bool, std::function<void(bool)>) override {}
  void memberSynced(const std::string&, const std::string&, int32_t) override {}
  void assigned(const std::string&, const std::string&,
                const std::map<std::string, std::vector<int32_t>>&,
                std::function<void(bool)> ready) override {
    ready(true);
  }
  void fenced(const std::string&, const std::string&, int32_t, int16_t) override {}
  bool knowsMember(const std::string&, const std::string&) const override { return true; }
};

TEST(OffsetCommitTest, ShouldReadEveryPartitionVerbatimAndAnswerSuccessInEveryVersion) {
  for (int16_t v = 0; v <= 9; ++v) {
    kafka::OffsetCommitRequest req;
    req.group_id = "wc";
    req.topics.push_back({"orders.v1", {{3, 42, 7, 1000, std::string("m"), {}}}, {}});
    auto commit = decodeCommit(kOffsetCommitKey, v, *req.serialize(v));
    ASSERT_TRUE(commit.isOk()) << commit.status().message();
    const CommittedOffset& c = commit->offsets.at({"wc", "orders.v1", 3});
    EXPECT_EQ(c.offset, 42);
    EXPECT_EQ(c.leader_epoch, v >= 6 ? 7 : -1);  // the field exists from v6
    EXPECT_EQ(c.metadata, std::string("m"));
    kafka::OffsetCommitResponse resp;
    ASSERT_TRUE(resp.parse(commit->success_body, v).isOk());
    ASSERT_EQ(resp.topics.size(), 1u);
    EXPECT_EQ(resp.topics[0].partitions[0].partition_index, 3);
    EXPECT_EQ(resp.topics[0].partitions[0].error_code, 0);
  }
}

TEST(OffsetCommitTest, ShouldReadTransactionalCommits) {
  kafka::TxnOffsetCommitRequest req;
  req.transactional_id = "tx";
  req.group_id = "wc";
  req.topics.push_back({"t", {{0, 9, -1, std::nullopt, {}}}, {}});
  auto commit = decodeCommit(kTxnOffsetCommitKey, 3, *req.serialize(3));
  ASSERT_TRUE(commit.isOk());
  EXPECT_EQ(commit->offsets.at({"wc", "t", 0}).offset, 9);
  EXPECT_EQ(commit->offsets.at({"wc", "t", 0}).metadata, std::nullopt);
}

TEST(OffsetFetchTest, ShouldAnswerKnownPartitionsFromTheSealedViewAndLeaveOthers) {
  FixedOffsets hooks;
  hooks.sealed[{"wc", "t", 0}] = {55, 2, std::string("meta")};
  kafka::OffsetFetchResponse resp;
  resp.topics.push_back(
      {"t", {{0, -1, -1, std::string(), 0, {}}, {1, 17, -1, std::string(), 0, {}}}, {}});
  auto out = rewriteOffsetFetch(7, *resp.serialize(7), "wc", hooks);
  ASSERT_TRUE(out.isOk() && out->has_value());
  kafka::OffsetFetchResponse back;
  ASSERT_TRUE(back.parse(**out, 7).isOk());
  EXPECT_EQ(back.topics[0].partitions[0].committed_offset, 55);
  EXPECT_EQ(back.topics[0].partitions[0].committed_leader_epoch, 2);
  EXPECT_EQ(back.topics[0].partitions[1].committed_offset, 17);  // unknown: upstream's answer
}

TEST(OffsetFetchTest, ShouldRewriteEachGroupOfABatchedFetch) {
  FixedOffsets hooks;
  hooks.sealed[{"b", "t", 0}] = {8, -1, std::nullopt};
  kafka::OffsetFetchResponse resp;
  kafka::OffsetFetchResponse::Group a{"a", {{"t", {{0, 1, -1, std::string(), 0, {}}}, {}}}, 0, {}};
  kafka::OffsetFetchResponse::Group b{"b", {{"t", {{0, 1, -1, std::string(), 0, {}}}, {}}}, 0, {}};
  resp.groups = {a, b};
  auto out = rewriteOffsetFetch(8, *resp.serialize(8), "", hooks);
  ASSERT_TRUE(out.isOk() && out->has_value());
  kafka::OffsetFetchResponse back;
  ASSERT_TRUE(back.parse(**out, 8).isOk());
  EXPECT_EQ(back.groups[0].topics[0].partitions[0].committed_offset, 1);
  EXPECT_EQ(back.groups[1].topics[0].partitions[0].committed_offset, 8);
}

TEST(OffsetFetchTest, ShouldForwardUnchangedWhenNothingIsKnown) {
  FixedOffsets hooks;
  kafka::OffsetFetchResponse resp;
  auto out = rewriteOffsetFetch(5, *resp.serialize(5), "wc", hooks);
  ASSERT_TRUE(out.isOk());
  EXPECT_FALSE(out->has_value());
}

}  // namespace
}  // namespace tidemark::proxy
