#include "sidecar/config/loader.h"

#include <gtest/gtest.h>

#include "sidecar/config/reflect.h"

namespace tidemark::config {
namespace {

constexpr const char* kCanonical = R"(
job: {id: wordcount}
proxy:
  listen: 127.0.0.1:19092
  advertised_host: 127.0.0.1
  broker_port_base: 19100
  upstream: {bootstrap_servers: "kafka-0:9092,kafka-1:9092"}
http: {listen: 127.0.0.1:8770}
checkpoint: {interval: 60s, max_messages: 100000}
store: {path: /var/lib/tidemark/tidemark.db}
remote: {kafka: {topic: __tidemark_checkpoints}}
log: {level: info}
)";

constexpr const char* kMinimal = "proxy: {upstream: {bootstrap_servers: k:9092}}\n";

// Every field of every message reachable from Config has a rule with a
// default, or is required, or is an explicitly optional string; nested
// messages are walked.
void expectEveryFieldHasARule(const google::protobuf::Descriptor* d) {
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE &&
        !isScalarMessage(f->message_type())) {
      expectEveryFieldHasARule(f->message_type());
      continue;
    }
    const auto& rule = ruleOf(f);
    const bool optional_string =
        f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_STRING &&
        rule.kind() != v1::FieldRule::KIND_PLAIN;
    EXPECT_TRUE(!rule.default_().empty() || rule.required() || optional_string)
        << f->full_name() << " has no default, is not required and has no kind";
  }
}

TEST(ConfigSchemaTest, ShouldHaveARuleOnEveryField) {
  expectEveryFieldHasARule(Config::descriptor());
}

TEST(ConfigLoaderTest, ShouldKeepAnErrorOnOneLineWhenItQuotesLineBreaks) {
  auto yaml = loadYaml("proxy: \"a\\nb\"\n", "t.yaml", {});
  ASSERT_FALSE(yaml.isOk());
  EXPECT_EQ(yaml.status().message().find('\n'), std::string::npos) << yaml.status().message();
  auto set = loadOverrides({{"proxy.li\nsten", "x"}});
  ASSERT_FALSE(set.isOk());
  EXPECT_EQ(set.status().message().find('\n'), std::string::npos) << set.status().message();
  EXPECT_NE(set.status().message().find("li\\nsten"), std::string::npos);
}

TEST(ConfigLoaderTest, ShouldAcceptTheCanonicalShape) {
  auto c = loadYaml(kCanonical, "canonical.yaml");
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->job().id(), "wordcount");
  EXPECT_EQ(c->proxy().broker_port_base(), 19100u);
  EXPECT_EQ(c->proxy().upstream().bootstrap_servers(), "kafka-0:9092,kafka-1:9092");
  EXPECT_EQ(c->checkpoint().interval().seconds(), 60);
  EXPECT_EQ(c->checkpoint().max_messages(), 100000u);
  EXPECT_EQ(c->log().level(), v1::Log::INFO);
}

TEST(ConfigLoaderTest, ShouldFillDefaultsForEverythingNotGiven) {
  auto c = loadYaml(kMinimal, "min.yaml");
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->proxy().listen(), "127.0.0.1:19092");
  EXPECT_EQ(c->http().listen(), "127.0.0.1:8770");
  EXPECT_EQ(c->http().max_blob_bytes(), 64u << 20);
  EXPECT_EQ(c->proxy().max_frame_bytes(), 100u << 20);
  EXPECT_EQ(c->checkpoint().interval().seconds(), 60);
  EXPECT_EQ(c->remote().kafka().topic(), "__tidemark_checkpoints");
  EXPECT_EQ(c->job().id(), "default");
}

TEST(ConfigLoaderTest, ShouldApplyOverridesAfterTheFileInOrder) {
  auto c = loadYaml(kCanonical, "c.yaml",
                    {{"checkpoint.interval", "5s"}, {"log.level", "debug"}, {"log.level", "warn"}});
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->checkpoint().interval().seconds(), 5);
  EXPECT_EQ(c->log().level(), v1::Log::WARN);
}

TEST(ConfigLoaderTest, ShouldAcceptASectionAsAnOverrideValue) {
  auto c = loadYaml(kMinimal, "c.yaml", {{"checkpoint", "{interval: 2s, max_messages: 7}"}});
  ASSERT_TRUE(c.isOk()) << c.status().message();
  EXPECT_EQ(c->checkpoint().max_messages(), 7u);
}

TEST(ConfigLoaderTest, ShouldRenderAnEffectiveConfigThatLoadsBackIdentically) {
  auto c = loadYaml(kCanonical, "c.yaml", {{"checkpoint.interval", "1500ms"}});
  ASSERT_TRUE(c.isOk());
  std::string rendered = renderYaml(*c);
  auto again = loadYaml(rendered, "rendered.yaml");
  ASSERT_TRUE(again.isOk()) << again.status().message() << "\n" << rendered;
  EXPECT_EQ(again->SerializeAsString(), c->SerializeAsString());
}

TEST(ConfigLoaderTest, ShouldParseOverrideArguments) {
  auto o = parseOverride("proxy.listen=127.0.0.1:1=2");
  ASSERT_TRUE(o.isOk());
  EXPECT_EQ(o->path, "proxy.listen");
  EXPECT_EQ(o->value, "127.0.0.1:1=2");
  EXPECT_FALSE(parseOverride("no-equals").isOk());
  EXPECT_FALSE(parseOverride("=x").isOk());
}

struct BadConfig {
  const char* name;
  const char* yaml;
  const char* expected;  // the whole one-line message
};

void PrintTo(const BadConfig& bad, std::ostream* os) { *os << bad.name; }

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, ShouldRejectWithOneLineNamingTheField) {
  const BadConfig& bad = GetParam();
  auto c = loadYaml(bad.yaml, "t.yaml");
  ASSERT_FALSE(c.isOk());
  EXPECT_EQ(c.status().message(), bad.expected);
  EXPECT_EQ(c.status().message().find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Messages, BadConfigTest,
    ::testing::Values(
        BadConfig{"UnknownTopLevelKey", "proxxy: {}\n",
                  "t.yaml:1: proxxy: unknown field (top level has: job, proxy, http, checkpoint, "
                  "store, remote, log, offsets, state, shutdown)"},
        BadConfig{"UnknownNestedKey", "proxy: {upstream: {bootstrap: k:1}}\n",
                  "t.yaml:1: proxy.upstream.bootstrap: unknown field (proxy.upstream has: "
                  "bootstrap_servers, tls, connect_timeout)"},
        BadConfig{"MissingUpstream", "job: {id: x}\n",
                  "t.yaml: proxy.upstream.bootstrap_servers: is required (a comma-separated "
                  "host:port list)"},
        BadConfig{"NegativeInterval",
                  "proxy: {upstream: {bootstrap_servers: k:1}}\n"
                  "checkpoint: {interval: -5s}\n",
                  "t.yaml:2: checkpoint.interval: expected a non-negative duration like 60s, "
                  "250ms or 1m30s, got \"-5s\""},
        BadConfig{"IntervalBelowMinimum",
                  "proxy: {upstream: {bootstrap_servers: k:1}}\ncheckpoint: {interval: 0s}\n",
                  "t.yaml:2: checkpoint.interval: must be at least 10ms, got \"0s\""},
        BadConfig{"BadListenAddress",
                  "proxy: {listen: localhost, upstream: {bootstrap_servers: k:1}}\n",
                  "t.yaml:1: proxy.listen: expected host:port like 127.0.0.1:9092, got "
                  "\"localhost\""},
        BadConfig{"PortOutOfRange",
                  "proxy: {upstream: {bootstrap_servers: k:1}}\n"
                  "http: {listen: \"127.0.0.1:70000\"}\n",
                  "t.yaml:2: http.listen: port must be 0..65535, got \"70000\" in "
                  "\"127.0.0.1:70000\""},
        BadConfig{"WrongTypeForInteger",
                  "proxy: {broker_port_base: lots, upstream: "
                  "{bootstrap_servers: k:1}}\n",
                  "t.yaml:1: proxy.broker_port_base: expected a non-negative integer, got "
                  "\"lots\""},
        BadConfig{"WrongTypeForSection", "proxy: 5\n",
                  "t.yaml:1: proxy: expected a mapping, got \"5\""},
        BadConfig{"BrokerPortBaseOutOfRange",
                  "proxy: {broker_port_base: 0, upstream: "
                  "{bootstrap_servers: k:1}}\n",
                  "t.yaml:1: proxy.broker_port_base: must be at least 1, got \"0\""},
        BadConfig{"UnknownLogLevel",
                  "proxy: {upstream: {bootstrap_servers: k:1}}\n"
                  "log: {level: verbose}\n",
                  "t.yaml:2: log.level: expected one of: trace, debug, info, warn, error, got "
                  "\"verbose\""},
        BadConfig{"InvalidTopicName",
                  "proxy: {upstream: {bootstrap_servers: k:1}}\n"
                  "remote: {kafka: {topic: \"a/b\"}}\n",
                  "t.yaml:2: remote.kafka.topic: expected a Kafka topic name ([A-Za-z0-9._-], "
                  "1-249 chars), got \"a/b\""},
        BadConfig{"BadBootstrapList", "proxy: {upstream: {bootstrap_servers: \"k:1,,j:2\"}}\n",
                  "t.yaml:1: proxy.upstream.bootstrap_servers: expected a comma-separated "
                  "host:port list, got \"k:1,,j:2\""},
        BadConfig{"BadByteSize",
                  "proxy: {upstream: {bootstrap_servers: k:1}}\n"
                  "http: {max_blob_bytes: 1.5GB}\n",
                  "t.yaml:2: http.max_blob_bytes: expected a byte size like 4096, 64KiB or "
                  "100MiB, got \"1.5GB\""},
        BadConfig{"ByteSizeTooLarge",
                  "proxy: {upstream: {bootstrap_servers: k:1}}\n"
                  "http: {max_blob_bytes: 2GiB}\n",
                  "t.yaml:2: http.max_blob_bytes: must be at most 1GiB, got \"2GiB\""},
        BadConfig{"ListInsteadOfScalar", "proxy: {upstream: {bootstrap_servers: [a, b]}}\n",
                  "t.yaml:1: proxy.upstream.bootstrap_servers: expected a comma-separated "
                  "host:port list, got a list"},
        BadConfig{"InvalidYaml", "proxy: {upstream: [\n",
                  "t.yaml:2: invalid YAML: end of sequence flow not found"},
        BadConfig{"TopLevelNotAMapping", "- a\n- b\n",
                  "t.yaml:1: expected a mapping of sections (proxy:, checkpoint:, ...) at the "
                  "top level, got a list"},
        BadConfig{"ConflictingListeners",
                  "proxy: {listen: \"127.0.0.1:9000\", upstream: "
                  "{bootstrap_servers: k:1}}\n"
                  "http: {listen: \"127.0.0.1:9000\"}\n",
                  "t.yaml: http.listen: 127.0.0.1:9000 is already proxy.listen; give the HTTP "
                  "API its own port"},
        BadConfig{"BadJobId",
                  "job: {id: \"my job\"}\nproxy: {upstream: {bootstrap_servers: k:1}}\n",
                  "t.yaml:1: job.id: expected an identifier ([A-Za-z0-9._-], 1-128 chars), got "
                  "\"my job\""}),
    [](const ::testing::TestParamInfo<BadConfig>& info) { return info.param.name; });

TEST(ConfigLoaderTest, ShouldNameTheFileWhenItCannotBeRead) {
  auto c = loadFile("/nonexistent/tidemark.yaml");
  ASSERT_FALSE(c.isOk());
  EXPECT_EQ(c.status().message(),
            "/nonexistent/tidemark.yaml: cannot read config file: No such file or directory");
}

TEST(ConfigLoaderTest, ShouldNameTheOverrideWhenItIsWrong) {
  auto c = loadYaml(kMinimal, "c.yaml", {{"checkpoint.max_messages", "-1"}});
  ASSERT_FALSE(c.isOk());
  EXPECT_EQ(c.status().message(),
            "--set checkpoint.max_messages=-1: checkpoint.max_messages: expected a non-negative "
            "integer, got \"-1\"");
  auto d = loadYaml(kMinimal, "c.yaml", {{"checkpoint.interval.seconds", "1"}});
  ASSERT_FALSE(d.isOk());
  EXPECT_EQ(d.status().message(),
            "--set checkpoint.interval.seconds=1: checkpoint.interval: is a value, not a section");
}

TEST(ConfigLoaderTest, ShouldRefuseTextThatIsNotUtf8AndSayWhere) {
  auto c = loadYaml("checkpoint:\n  interval: 30s\njob:\n  name: caf\xe9\n", "c.yaml");
  ASSERT_FALSE(c.isOk());
  EXPECT_EQ(c.status().message(),
            "c.yaml:4: not valid UTF-8 at column 12 (config files are UTF-8 text)");
  auto d = loadYaml(kMinimal, "c.yaml", {{"job.name", "caf\xc3"}});
  ASSERT_FALSE(d.isOk());
  EXPECT_EQ(d.status().message(),
            "--set job.name=...: the value is not valid UTF-8 (config values are UTF-8 text)");
  EXPECT_TRUE(loadYaml(kMinimal, "c.yaml", {{"store.path", "/data/caf\xc3\xa9.db"}}).isOk());
}

}  // namespace
}  // namespace tidemark::config
