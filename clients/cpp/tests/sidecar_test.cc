// The client against a real `tidemark serve` where the conformance cases stop:
// values large enough to take many reads and writes, and a body so far beyond
// the limit that the sidecar answers 413 from the head and closes without
// reading it (the client must still report PayloadTooLarge, not a broken pipe).

#include <gtest/gtest.h>

#include "sidecar_processes.h"
#include "tidemark/client.h"

namespace tidemark {
namespace {

class SidecarTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<test_support::TempDir>();
    kafka_ = test_support::EmbeddedKafka::start(1, {"demo:6"}, error_);
    if (!kafka_) return;
    sidecar_ = test_support::Sidecar::start(dir_->path(), kafka_->bootstrap(),
                                            {{"http.max_blob_bytes", "4MiB"},
                                             {"checkpoint.interval", "24h"},
                                             {"checkpoint.max_messages", "0"}},
                                            error_);
  }
  static void TearDownTestSuite() {
    sidecar_.reset();
    kafka_.reset();
    dir_.reset();
  }
  void SetUp() override { ASSERT_TRUE(sidecar_ != nullptr) << "no sidecar: " << error_; }

  static Client client() {
    ClientOptions o;
    o.base_url = "http://" + sidecar_->http();
    return Client(o);
  }

  static inline std::unique_ptr<test_support::TempDir> dir_;
  static inline std::unique_ptr<test_support::EmbeddedKafka> kafka_;
  static inline std::unique_ptr<test_support::Sidecar> sidecar_;
  static inline std::string error_;
};

std::string pattern(size_t size) {
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + i / 977) & 0xFF);
  return bytes;
}

TEST_F(SidecarTest, ShouldRoundTripValueWhenItIsMegabytesOfBinary) {
  Client c = client();
  const std::string value = pattern(4 << 20);
  const std::string etag = c.putState("large/blob", value);
  const auto staged = c.getState("large/blob", View::kStaged);
  ASSERT_TRUE(staged);
  EXPECT_EQ(staged->etag, etag);
  EXPECT_TRUE(staged->value == value) << "the value came back changed";
  const auto keys = c.listState("large/", View::kStaged);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].size, value.size());
}

TEST_F(SidecarTest, ShouldCommitBinaryValuesWhenTheyTravelAsBase64) {
  Client c = client();
  const std::string value = pattern(1 << 20);
  const SealResult sealed = c.commit({{"g", "demo", 3, 100}}, {{"commit/blob", value}});
  EXPECT_EQ(sealed.partitions, 1u);
  const auto state = c.getState("commit/blob");  // sealed by the commit itself
  ASSERT_TRUE(state);
  EXPECT_TRUE(state->value == value);
  EXPECT_EQ(state->content_type, "application/octet-stream");
}

TEST_F(SidecarTest, ShouldThrowPayloadTooLargeWhenSidecarRefusesBodyWithoutReadingIt) {
  Client c = client();
  // Beyond the sidecar's 16MiB discard allowance: it answers and closes.
  try {
    c.putState("too_large/huge", std::string(24 << 20, 'x'));
    FAIL() << "accepted";
  } catch (const PayloadTooLarge& e) {
    EXPECT_EQ(e.code(), "payload_too_large");
  }
  // The client recovers on a new connection.
  EXPECT_FALSE(c.putState("too_large/after", "fits").empty());
}

TEST_F(SidecarTest, ShouldReportCheckpointDetailWhenCheckpointTaken) {
  Client c = client();
  c.putState("detail/k", "v", {"text/plain"});
  c.markOffsets({{"detail", "demo", 4, 12, 2, std::string("m")}});
  const std::string id = c.checkpoint(std::chrono::seconds(20));
  const CheckpointDetail d = c.getCheckpoint(id);
  EXPECT_EQ(d.id, id);
  EXPECT_EQ(d.trigger, "request");
  EXPECT_EQ(d.job_id, "it");
  bool found = false;
  for (const Offset& o : d.offsets) {
    if (o.group == "detail") {
      found = true;
      EXPECT_EQ(o.partition, 4);
      EXPECT_EQ(o.offset, 12);
      EXPECT_EQ(o.leader_epoch, 2);
      EXPECT_EQ(o.metadata, "m");
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(c.checkpoints().front().id, id);  // newest first
}

}  // namespace
}  // namespace tidemark
