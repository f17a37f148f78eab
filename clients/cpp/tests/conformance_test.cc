// Runs tests/conformance/cases.json through the C++ client's public API, as
// tests/conformance/README.md specifies: one tidemark-embedded-kafka (1
// broker, topic demo:6) and one `tidemark serve` with the file's settings and
// http.token_file holding its token; a fresh Client per case; every step's
// expectation checked.
//
// The runner is strict, like the Python one: an op, argument, case field or
// check it does not know fails the case instead of passing it unchecked.
// $TIDEMARK_CONFORMANCE_CASES replaces the cases file (to show the runner
// failing on a changed expectation without touching the real one).

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <variant>

#include "encoding.h"
#include "sidecar_processes.h"
#include "tidemark/client.h"

namespace tidemark {
namespace {

using json = nlohmann::json;

#ifndef TIDEMARK_CONFORMANCE_CASES_FILE
#error "TIDEMARK_CONFORMANCE_CASES_FILE must name tests/conformance/cases.json"
#endif

// A case as the parameter of the test; `doc` is its JSON. load_error: the
// cases file itself could not be used (one failing test says why).
struct Case {
  std::string name;
  json doc;
  std::string load_error;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string casesPath() {
  const char* env = std::getenv("TIDEMARK_CONFORMANCE_CASES");
  return env != nullptr && *env != '\0' ? env : TIDEMARK_CONFORMANCE_CASES_FILE;
}

const json& casesDoc() {
  static const json doc = [] {
    std::ifstream in(casesPath());
    return json::parse(in, nullptr, /*allow_exceptions=*/false);
  }();
  return doc;
}

std::vector<Case> loadCases() {
  const json& doc = casesDoc();
  if (!doc.is_object() || !doc.contains("cases") || !doc["cases"].is_array()) {
    return {{"cases_file", {}, casesPath() + " is not a conformance cases document"}};
  }
  if (doc.value("version", 0) != 1) {
    return {{"cases_file",
             {},
             "cases.json version " + doc["version"].dump() + ": this runner knows version 1"}};
  }
  std::vector<Case> out;
  for (const json& c : doc["cases"]) out.push_back({c.value("name", "unnamed"), c, ""});
  return out;
}

// A failed expectation or a malformed case: ends the case with this message.
struct CaseFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void require(bool ok, const std::string& what) {
  if (!ok) throw CaseFailure(what);
}

const std::set<std::string> kCaseFields = {"name", "about", "steps", "client"};
const std::set<std::string> kValueArgs = {"value", "value_base64", "value_repeat"};
const std::map<std::string, std::set<std::string>> kOpArgs = {
    {"put_state",
     {"key", "content_type", "if_match", "value", "value_base64", "value_repeat", "partition"}},
    {"get_state", {"key", "view", "partition"}},
    {"delete_state", {"key", "if_match", "partition"}},
    {"list_state", {"prefix", "view", "partition"}},
    {"mark_offsets", {"offsets"}},
    {"commit", {"offsets", "put", "delete"}},
    {"checkpoint", {}},
    {"checkpoints", {}},
    {"get_checkpoint", {"id"}},
};
const std::set<std::string> kOffsetFields = {"group",  "topic",        "partition",
                                             "offset", "leader_epoch", "metadata"};

// What an op returned, by op: put_state and checkpoint give a string (ETag, id).
using Result =
    std::variant<std::monostate, std::string, std::optional<State>, std::vector<StateInfo>,
                 SealResult, std::vector<CheckpointSummary>, CheckpointDetail>;

// Replaces "$name" strings, at any depth, by what an earlier step saved.
json resolve(const json& value, const std::map<std::string, std::string>& saved,
             const std::string& where) {
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (s.empty() || s[0] != '$') return value;
    auto it = saved.find(s.substr(1));
    require(it != saved.end(), where + ": " + s + " was not saved by an earlier step");
    return it->second;
  }
  json out = value;
  if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) out[i] = resolve(value[i], saved, where);
  } else if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      out[it.key()] = resolve(it.value(), saved, where);
    }
  }
  return out;
}

std::string text(const json& args, const char* name, const std::string& where) {
  require(args.contains(name) && args[name].is_string(), where + ": " + name + " must be a string");
  return args[name].get<std::string>();
}

std::optional<std::string> optionalText(const json& args, const char* name,
                                        const std::string& where) {
  if (!args.contains(name)) return std::nullopt;
  return text(args, name, where);
}

std::string bytesOfBase64(const json& v, const std::string& where) {
  require(v.is_string(), where + ": value_base64 must be a string");
  auto bytes = detail::base64Decode(v.get<std::string>());
  require(bytes.has_value(), where + ": value_base64 is not padded base64");
  return *bytes;
}

// The value argument of put_state: UTF-8 text, base64 bytes, or N copies of one byte.
std::string stepValue(const json& args, const std::string& where) {
  int given = 0;
  for (const std::string& k : kValueArgs) given += args.contains(k) ? 1 : 0;
  require(given == 1, where + ": put_state needs exactly one of value, value_base64, value_repeat");
  if (args.contains("value")) return text(args, "value", where);
  if (args.contains("value_base64")) return bytesOfBase64(args["value_base64"], where);
  const json& r = args["value_repeat"];
  require(r.is_object() && r.size() == 2 && r.contains("byte") && r["byte"].is_string() &&
              r["byte"].get<std::string>().size() == 1 && r.contains("count") &&
              r["count"].is_number_unsigned(),
          where + ": value_repeat is {\"byte\": one character, \"count\": N}");
  return std::string(r["count"].get<size_t>(), r["byte"].get<std::string>()[0]);
}

View viewOf(const json& args, const std::string& where) {
  const std::string view = optionalText(args, "view", where).value_or("sealed");
  require(view == "sealed" || view == "staged", where + ": view is sealed or staged");
  return view == "staged" ? View::kStaged : View::kSealed;
}

std::vector<Offset> offsetsOf(const json& args, const std::string& where) {
  require(args.contains("offsets") && args["offsets"].is_array(),
          where + ": offsets must be an array");
  std::vector<Offset> out;
  for (const json& o : args["offsets"]) {
    require(o.is_object(), where + ": an offset is an object");
    for (const auto& [k, v] : o.items()) {
      require(kOffsetFields.count(k) == 1, where + ": unknown offset field " + k);
    }
    require(o.contains("partition") && o["partition"].is_number_integer() && o.contains("offset") &&
                o["offset"].is_number_integer(),
            where + ": an offset needs integer partition and offset");
    Offset off;
    off.group = text(o, "group", where);
    off.topic = text(o, "topic", where);
    off.partition = o["partition"].get<int32_t>();
    off.offset = o["offset"].get<int64_t>();
    if (o.contains("leader_epoch")) off.leader_epoch = o["leader_epoch"].get<int32_t>();
    off.metadata = optionalText(o, "metadata", where);
    out.push_back(std::move(off));
  }
  return out;
}

// A "partition": {group, topic, partition} argument.
PartitionId partitionOf(const json& p, const std::string& where) {
  require(p.is_object() && p.size() == 3 && p.contains("group") && p["group"].is_string() &&
              p.contains("topic") && p["topic"].is_string() && p.contains("partition") &&
              p["partition"].is_number_integer(),
          where + ": partition is {group, topic, partition}: " + p.dump());
  return {p["group"].get<std::string>(), p["topic"].get<std::string>(),
          p["partition"].get<std::int32_t>()};
}

// A state op with a partition argument, through Client::partition.
Result runPartitionOp(Client& client, const std::string& op, const json& args,
                      const std::string& where) {
  PartitionId id = partitionOf(args["partition"], where);
  PartitionState scope = client.partition(id.group, id.topic, id.partition);
  if (op == "put_state") {
    PutOptions options;
    options.content_type = optionalText(args, "content_type", where);
    options.if_match = optionalText(args, "if_match", where);
    return scope.putState(text(args, "key", where), stepValue(args, where), options);
  }
  if (op == "get_state") return scope.getState(text(args, "key", where), viewOf(args, where));
  if (op == "delete_state") {
    scope.deleteState(text(args, "key", where), optionalText(args, "if_match", where));
    return std::monostate{};
  }
  if (op == "list_state") {
    return scope.listState(optionalText(args, "prefix", where).value_or(""), viewOf(args, where));
  }
  throw CaseFailure(where + ": " + op + " takes no partition");
}

Result runOp(Client& client, const std::string& op, const json& args, const std::string& where) {
  if (args.contains("partition")) return runPartitionOp(client, op, args, where);
  if (op == "put_state") {
    PutOptions options;
    options.content_type = optionalText(args, "content_type", where);
    options.if_match = optionalText(args, "if_match", where);
    return client.putState(text(args, "key", where), stepValue(args, where), options);
  }
  if (op == "get_state") return client.getState(text(args, "key", where), viewOf(args, where));
  if (op == "delete_state") {
    client.deleteState(text(args, "key", where), optionalText(args, "if_match", where));
    return std::monostate{};
  }
  if (op == "list_state") {
    return client.listState(optionalText(args, "prefix", where).value_or(""), viewOf(args, where));
  }
  if (op == "mark_offsets") return client.markOffsets(offsetsOf(args, where));
  if (op == "commit") {
    std::map<std::string, std::string> put;
    if (args.contains("put")) {
      require(args["put"].is_object(), where + ": put is {key: value}");
      for (const auto& [key, value] : args["put"].items()) {
        require(value.is_string(), where + ": put values are strings");
        put[key] = value.get<std::string>();
      }
    }
    std::vector<std::string> del;
    if (args.contains("delete")) {
      require(args["delete"].is_array(), where + ": delete is [key]");
      for (const json& key : args["delete"]) {
        require(key.is_string(), where + ": delete keys are strings");
        del.push_back(key.get<std::string>());
      }
    }
    return client.commit(offsetsOf(args, where), put, del);
  }
  if (op == "checkpoint") return client.checkpoint();
  if (op == "checkpoints") return client.checkpoints();
  if (op == "get_checkpoint") return client.getCheckpoint(text(args, "id", where));
  throw CaseFailure(where + ": unknown op");
}

// Bytes for a failure message: quoted when printable ASCII, else base64.
std::string show(const std::string& bytes) {
  for (unsigned char c : bytes) {
    if (c < 0x20 || c > 0x7e) return detail::base64Encode(bytes) + " (base64)";
  }
  return bytes.size() > 200 ? json(bytes.substr(0, 200)).dump() + "..." : json(bytes).dump();
}

template <typename T>
const T& as(const Result& r, const std::string& check, const std::string& where) {
  const T* value = std::get_if<T>(&r);
  require(value != nullptr, where + ": check " + check + " does not apply to this op's result");
  return *value;
}

// The state a value/content_type/etag check looks at: get_state's, present.
const State& stateOf(const Result& r, const std::string& check, const std::string& where) {
  const auto& state = as<std::optional<State>>(r, check, where);
  require(state.has_value(), where + ": expected a value for " + check + ", got none");
  return *state;
}

void checkResult(const std::string& op, const Result& r, const json& expect,
                 std::map<std::string, std::string>& saved, const std::string& where) {
  for (const auto& [check, want] : expect.items()) {
    if (check == "absent") {
      require(want == true, where + ": absent must be true");
      const auto& state = as<std::optional<State>>(r, check, where);
      require(!state.has_value(),
              where + ": expected no state, got " + (state ? show(state->value) : ""));
    } else if (check == "value" || check == "value_base64") {
      const std::string expected =
          check == "value" ? text(expect, "value", where) : bytesOfBase64(want, where);
      const State& state = stateOf(r, check, where);
      require(state.value == expected,
              where + ": value " + show(state.value) + ", want " + show(expected));
    } else if (check == "content_type") {
      const State& state = stateOf(r, check, where);
      require(state.content_type == text(expect, "content_type", where),
              where + ": content_type " + state.content_type + ", want " + want.dump());
    } else if (check == "etag") {
      const State& state = stateOf(r, check, where);
      const std::string expected = resolve(want, saved, where).get<std::string>();
      require(state.etag == expected, where + ": etag " + state.etag + ", want " + expected);
    } else if (check == "keys") {
      json keys = json::array();
      for (const StateInfo& i : as<std::vector<StateInfo>>(r, check, where)) keys.push_back(i.key);
      require(keys == want, where + ": keys " + keys.dump() + ", want " + want.dump());
    } else if (check == "partitions") {
      const SealResult& sealed = as<SealResult>(r, check, where);
      require(
          want.is_number_unsigned() && sealed.partitions == want.get<uint64_t>(),
          where + ": partitions " + std::to_string(sealed.partitions) + ", want " + want.dump());
    } else if (check == "count_at_least") {
      const auto& list = as<std::vector<CheckpointSummary>>(r, check, where);
      require(want.is_number_unsigned() && list.size() >= want.get<size_t>(),
              where + ": " + std::to_string(list.size()) + " checkpoints, want at least " +
                  want.dump());
    } else if (check == "partition_entry") {
      const CheckpointDetail& detail = as<CheckpointDetail>(r, check, where);
      require(want.is_object() && want.size() == 4 && want.contains("key") && want["key"].is_string(),
              where + ": partition_entry is {key, group, topic, partition}");
      json p = want;
      p.erase("key");
      const PartitionId id = partitionOf(p, where);
      bool found = false;
      for (const CheckpointStateEntry& e : detail.state) {
        found = found || (e.key == want["key"].get<std::string>() && e.partition == id);
      }
      require(found, where + ": no state entry " + want.dump() + " in the checkpoint");
    } else if (check == "trigger") {
      const CheckpointDetail& detail = as<CheckpointDetail>(r, check, where);
      require(detail.trigger == text(expect, "trigger", where),
              where + ": trigger " + detail.trigger + ", want " + want.dump());
    } else if (check == "save") {
      require(want.is_object(), where + ": save is {what: name}");
      for (const auto& [what, name] : want.items()) {
        require(name.is_string(), where + ": save names are strings");
        std::string value;
        if (what == "etag") {
          value = op == "put_state" ? as<std::string>(r, "save etag", where)
                                    : stateOf(r, "save etag", where).etag;
          require(!value.empty() && value[0] == '"', where + ": ETag " + value + " is not quoted");
        } else if (what == "id") {
          require(op == "checkpoint", where + ": save id applies to checkpoint");
          value = as<std::string>(r, "save id", where);
          require(!value.empty(), where + ": empty checkpoint id");
        } else {
          throw CaseFailure(where + ": unknown save " + what);
        }
        saved[name.get<std::string>()] = value;
      }
    } else {
      throw CaseFailure(where + ": unknown check " + check);
    }
  }
}

// The typed error each status must arrive as.
bool hasTypeFor(const Error& e, int status) {
  switch (status) {
    case 400:
      return dynamic_cast<const BadRequest*>(&e) != nullptr;
    case 401:
      return dynamic_cast<const Unauthenticated*>(&e) != nullptr;
    case 404:
      return dynamic_cast<const NotFound*>(&e) != nullptr;
    case 409:
      return dynamic_cast<const Conflict*>(&e) != nullptr;
    case 413:
      return dynamic_cast<const PayloadTooLarge*>(&e) != nullptr;
    default:
      return true;
  }
}

void expectError(Client& client, const std::string& op, const json& args, const json& want,
                 const std::string& where) {
  require(want.is_object() && want.contains("status") && want["status"].is_number_integer() &&
              want.contains("code") && want["code"].is_string(),
          where + ": error is {status, code}");
  const int status = want["status"].get<int>();
  const std::string code = want["code"].get<std::string>();
  try {
    runOp(client, op, args, where);
  } catch (const Error& e) {
    require(e.status() == status && e.code() == code,
            where + ": got " + std::to_string(e.status()) + " " + e.code() + " (" + e.message() +
                "), want " + std::to_string(status) + " " + code);
    require(hasTypeFor(e, status),
            where + ": status " + std::to_string(status) + " did not arrive as its typed error");
    return;
  } catch (const TransportError& e) {
    throw CaseFailure(where + ": TransportError " + e.what() + ", want " + std::to_string(status) +
                      " " + code);
  }
  throw CaseFailure(where + ": succeeded, want " + std::to_string(status) + " " + code);
}

class ConformanceTest : public ::testing::TestWithParam<Case> {
 protected:
  // One cluster and one sidecar for every case, started before the first.
  static void SetUpTestSuite() {
    const json& doc = casesDoc();
    if (!doc.is_object() || !doc.contains("sidecar")) return;  // the load_error case says why
    dir_ = std::make_unique<test_support::TempDir>();
    if (dir_->path().empty()) {
      setup_error_ = "cannot create a temporary directory";
      return;
    }
    token_ = doc["sidecar"].value("token", "");
    token_file_ = dir_->path() + "/token";
    std::ofstream(token_file_) << token_ << "\n";
    std::map<std::string, std::string> settings;
    const json given = doc["sidecar"].value("settings", json::object());
    for (const auto& [key, value] : given.items()) {
      settings[key] = value.is_string() ? value.get<std::string>() : value.dump();
    }
    settings["http.token_file"] = token_file_;
    kafka_ = test_support::EmbeddedKafka::start(1, {"demo:6"}, setup_error_);
    if (!kafka_) return;
    sidecar_ =
        test_support::Sidecar::start(dir_->path(), kafka_->bootstrap(), settings, setup_error_);
  }

  static void TearDownTestSuite() {
    sidecar_.reset();
    kafka_.reset();
    dir_.reset();
  }

  // A fresh client for a case: {"token": "valid"} (the token file) unless the
  // case asks for "none" or "wrong".
  static Client clientFor(const json& c) {
    ClientOptions options;
    options.base_url = "http://" + sidecar_->http();
    const std::string kind = c.contains("client") ? c["client"].value("token", "valid") : "valid";
    if (c.contains("client")) {
      for (const auto& [k, v] : c["client"].items()) {
        require(k == "token", "unknown client field " + k);
      }
    }
    if (kind == "valid") {
      options.token_file = token_file_;
    } else if (kind == "wrong") {
      options.token = token_ + "-wrong";
    } else {
      require(kind == "none", "unknown client token kind " + kind);
    }
    return Client(options);
  }

  static inline std::unique_ptr<test_support::TempDir> dir_;
  static inline std::unique_ptr<test_support::EmbeddedKafka> kafka_;
  static inline std::unique_ptr<test_support::Sidecar> sidecar_;
  static inline std::string setup_error_;
  static inline std::string token_;
  static inline std::string token_file_;
};

void runCase(Client& client, const json& c) {
  for (const auto& [field, value] : c.items()) {
    require(kCaseFields.count(field) == 1, "unknown case field " + field);
  }
  require(c.contains("steps") && c["steps"].is_array(), "a case needs steps");
  std::map<std::string, std::string> saved;
  size_t i = 0;
  for (const json& step : c["steps"]) {
    const std::string op = step.value("op", "");
    const std::string where =
        c.value("name", "") + " step " + std::to_string(i++) + " (" + op + ")";
    auto known = kOpArgs.find(op);
    require(known != kOpArgs.end(), where + ": unknown op");
    require(step.contains("expect") && step["expect"].is_object(), where + ": no expect object");
    json args = json::object();
    for (const auto& [k, v] : step.items()) {
      if (k == "op" || k == "expect") continue;
      require(known->second.count(k) == 1, where + ": unknown argument " + k);
      args[k] = resolve(v, saved, where);
    }
    const json& expect = step["expect"];
    if (expect.contains("error")) {
      require(expect.size() == 1, where + ": error and checks together");
      expectError(client, op, args, expect["error"], where);
      continue;
    }
    Result result;
    try {
      result = runOp(client, op, args, where);
    } catch (const Error& e) {
      throw CaseFailure(where + ": unexpected " + e.what());
    } catch (const TransportError& e) {
      throw CaseFailure(where + ": TransportError " + e.what());
    }
    checkResult(op, result, expect, saved, where);
  }
}

TEST_P(ConformanceTest, ShouldSatisfyCase) {
  const Case& c = GetParam();
  ASSERT_TRUE(c.load_error.empty()) << c.load_error;
  ASSERT_TRUE(sidecar_ != nullptr) << "no sidecar: " << setup_error_;
  try {
    Client client = clientFor(c.doc);
    runCase(client, c.doc);
  } catch (const CaseFailure& e) {
    FAIL() << e.what() << "\n  case: " << c.doc.value("about", "");
  }
}

// gtest names allow only letters, digits and '_'.
std::string testName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.name;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name.empty() ? "case" + std::to_string(info.index) : name;
}

INSTANTIATE_TEST_SUITE_P(Cases, ConformanceTest, ::testing::ValuesIn(loadCases()), testName);

}  // namespace
}  // namespace tidemark
