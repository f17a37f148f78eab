#include "sidecar/base/log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tidemark::log {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setSink([this](std::string_view line) { lines_.emplace_back(line); });
    setLevel(Level::kInfo);
  }
  void TearDown() override {
    setSink(nullptr);
    setLevel(Level::kInfo);
  }
  std::vector<std::string> lines_;
};

TEST_F(LogTest, ShouldWriteOneLogfmtLineWithComponentAndFields) {
  TM_LOG(Info, "proxy", "listening").kv("addr", "127.0.0.1:19092").kv("brokers", 3);
  ASSERT_EQ(lines_.size(), 1u);
  const std::string& line = lines_[0];
  EXPECT_EQ(line.rfind("ts=", 0), 0u);
  EXPECT_NE(line.find(" level=info component=proxy msg=listening addr=127.0.0.1:19092 brokers=3"),
            std::string::npos)
      << line;
}

TEST_F(LogTest, ShouldQuoteAndEscapeValuesThatWouldBreakTheLine) {
  TM_LOG(Warn, "http", "bad request").kv("path", "/a b\n\"c\"");
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_NE(lines_[0].find(R"(msg="bad request" path="/a b\n\"c\"")"), std::string::npos)
      << lines_[0];
}

TEST_F(LogTest, ShouldNotEvaluateArgumentsWhenTheLevelIsDisabled) {
  int evaluated = 0;
  auto expensive = [&] {
    ++evaluated;
    return std::string("x");
  };
  TM_LOG(Debug, "proxy", "frame").kv("dump", expensive());
  EXPECT_EQ(evaluated, 0);
  EXPECT_TRUE(lines_.empty());
  setLevel(Level::kDebug);
  TM_LOG(Debug, "proxy", "frame").kv("dump", expensive());
  EXPECT_EQ(evaluated, 1);
}

TEST(LogLevelTest, ShouldParseEveryLevelNameAndRejectOthers) {
  for (const char* name : {"trace", "debug", "info", "warn", "error"}) {
    auto level = parseLevel(name);
    ASSERT_TRUE(level.has_value()) << name;
    EXPECT_STREQ(levelName(*level), name);
  }
  EXPECT_FALSE(parseLevel("verbose").has_value());
}

}  // namespace
}  // namespace tidemark::log
