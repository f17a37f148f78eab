#include "sidecar/cli/args.h"

#include <gtest/gtest.h>

namespace tidemark::cli {
namespace {

const std::vector<FlagSpec> kSpecs = {{"config"}, {"set", true, true}, {"verbose", false}};

TEST(ArgsTest, ShouldCollectValuedRepeatedAndPositionalArguments) {
  auto args = parseArgs({"check", "--config", "a.yaml", "--set=x.y=1", "--set", "z=2", "--verbose"},
                        kSpecs);
  ASSERT_TRUE(args.isOk()) << args.status().toString();
  EXPECT_EQ(args->get("config"), "a.yaml");
  EXPECT_EQ(args->all("set"), (std::vector<std::string>{"x.y=1", "z=2"}));
  EXPECT_TRUE(args->has("verbose"));
  EXPECT_EQ(args->positional, (std::vector<std::string>{"check"}));
}

TEST(ArgsTest, ShouldRejectUnknownFlags) {
  auto args = parseArgs({"--confg", "a.yaml"}, kSpecs);
  ASSERT_FALSE(args.isOk());
  EXPECT_EQ(args.status().message(), "unknown flag --confg");
}

TEST(ArgsTest, ShouldRejectAMissingValue) {
  EXPECT_EQ(parseArgs({"--config"}, kSpecs).status().message(), "--config needs a value");
}

TEST(ArgsTest, ShouldRejectANonRepeatableFlagGivenTwice) {
  EXPECT_EQ(parseArgs({"--config", "a", "--config", "b"}, kSpecs).status().message(),
            "--config given more than once");
}

TEST(ArgsTest, ShouldRecordHelpWhateverElseIsThere) {
  auto args = parseArgs({"--config", "a", "-h"}, kSpecs);
  ASSERT_TRUE(args.isOk());
  EXPECT_TRUE(args->has("help"));
}

}  // namespace
}  // namespace tidemark::cli
