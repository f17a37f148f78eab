// The public API against a scripted server: what goes on the wire (paths,
// headers, bodies) and how answers and errors come back. The real sidecar is
// the conformance test's business; these pin the client's side of it.

#include "tidemark/client.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "api_error.h"
#include "fake_server.h"
#include "sidecar_processes.h"

namespace tidemark {
namespace {

using test_support::FakeServer;
using test_support::RawRequest;

const char* kEtag = "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"";

// Answers each request with the next of `answers`.
FakeServer::Script answering(std::vector<std::string> answers) {
  return [answers](FakeServer::Conn& c) {
    for (const std::string& a : answers) {
      if (!c.read()) return;
      c.write(a);
    }
  };
}

std::string jsonAnswer(int status, const std::string& body) {
  return FakeServer::answer(status, body, "Content-Type: application/json\r\n");
}

Client clientOf(const FakeServer& server, std::optional<std::string> token = std::nullopt) {
  ClientOptions o;
  o.base_url = server.url();
  o.token = std::move(token);
  o.timeout = std::chrono::seconds(5);
  return Client(o);
}

TEST(ClientTest, ShouldPutBytesUnderEncodedKeyWithHeadersWhenPuttingState) {
  FakeServer server(
      {answering({FakeServer::answer(204, "", "ETag: " + std::string(kEtag) + "\r\n")})});
  Client client = clientOf(server, "secret");
  PutOptions options;
  options.content_type = "text/plain";
  options.if_match = "*";
  const std::string value("\0\x01\xff", 3);
  EXPECT_EQ(client.putState("reserved/a:b@c/d e", value, options), kEtag);

  const RawRequest r = server.requests().at(0);
  EXPECT_EQ(r.line(), "PUT /v1/state/reserved/a%3Ab%40c/d%20e HTTP/1.1");
  EXPECT_EQ(r.header("authorization"), "Bearer secret");
  EXPECT_EQ(r.header("content-type"), "text/plain");
  EXPECT_EQ(r.header("if-match"), "*");
  EXPECT_EQ(r.body, value);
}

TEST(ClientTest, ShouldReturnStateWithTypeAndEtagWhenKeyHasOne) {
  FakeServer server({answering({FakeServer::answer(
      200, std::string("v\0w", 3),
      "Content-Type: application/x-thing\r\nETag: " + std::string(kEtag) + "\r\n")})});
  Client client = clientOf(server);
  const std::optional<State> state = client.getState("k", View::kStaged);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->value, std::string("v\0w", 3));
  EXPECT_EQ(state->content_type, "application/x-thing");
  EXPECT_EQ(state->etag, kEtag);
  EXPECT_EQ(server.requests().at(0).line(), "GET /v1/state/k?view=staged HTTP/1.1");
  EXPECT_EQ(server.requests().at(0).header("authorization"), std::nullopt);
}

TEST(ClientTest, ShouldReturnNothingWhenKeyHasNoState) {
  FakeServer server({answering(
      {jsonAnswer(404, R"({"error": {"code": "not_found", "message": "no state k"}})")})});
  Client client = clientOf(server);
  EXPECT_EQ(client.getState("k"), std::nullopt);
  EXPECT_EQ(server.requests().at(0).line(), "GET /v1/state/k HTTP/1.1");
}

TEST(ClientTest, ShouldThrowNotFoundWhenGetMeetsAnother404) {
  // A 404 that is not the API's not_found (a proxy's page) is not "no state".
  FakeServer server({answering({FakeServer::answer(404, "<html>nope</html>")})});
  Client client = clientOf(server);
  try {
    client.getState("k");
    FAIL() << "no exception";
  } catch (const NotFound& e) {
    EXPECT_EQ(e.code(), "unknown");
    EXPECT_EQ(e.message(), "<html>nope</html>");
  }
}

TEST(ClientTest, ShouldThrowConflictWithCodeWhenIfMatchFails) {
  FakeServer server({answering({jsonAnswer(
      409, R"({"error": {"code": "precondition_failed", "message": "etag differs"}})")})});
  Client client = clientOf(server);
  try {
    client.deleteState("k", std::string(kEtag));
    FAIL() << "no exception";
  } catch (const Conflict& e) {
    EXPECT_EQ(e.status(), 409);
    EXPECT_EQ(e.code(), "precondition_failed");
    EXPECT_EQ(e.message(), "etag differs");
    EXPECT_STREQ(e.what(), "409 precondition_failed: etag differs");
  }
  EXPECT_EQ(server.requests().at(0).line(), "DELETE /v1/state/k HTTP/1.1");
  EXPECT_EQ(server.requests().at(0).header("if-match"), kEtag);
}

TEST(ClientTest, ShouldListKeysWithEncodedQueryWhenPrefixGiven) {
  FakeServer server({answering({jsonAnswer(200, R"({"keys": [
      {"key": "a/b", "size": 3, "etag": "\"e1\""},
      {"key": "a/c", "size": 0, "etag": "\"e2\""}]})")})});
  Client client = clientOf(server);
  const std::vector<StateInfo> keys = client.listState("a/ b", View::kStaged);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].key, "a/b");
  EXPECT_EQ(keys[0].size, 3u);
  EXPECT_EQ(keys[1].etag, "\"e2\"");
  EXPECT_EQ(server.requests().at(0).line(), "GET /v1/state?prefix=a%2F%20b&view=staged HTTP/1.1");
}

TEST(ClientTest, ShouldSendOffsetsAsJsonAndReadSealWhenMarkingOffsets) {
  FakeServer server({answering({jsonAnswer(200, R"({"seal": 7, "partitions": 2})")})});
  Client client = clientOf(server);
  Offset with_epoch{"g", "t", 1, 42, 5, std::string("meta")};
  const SealResult sealed = client.markOffsets({{"g", "t", 0, 10}, with_epoch});
  EXPECT_EQ(sealed.seal, 7u);
  EXPECT_EQ(sealed.partitions, 2u);
  const RawRequest r = server.requests().at(0);
  EXPECT_EQ(r.line(), "POST /v1/offsets HTTP/1.1");
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(r.body), nlohmann::json::parse(R"([
    {"group": "g", "topic": "t", "partition": 0, "offset": 10},
    {"group": "g", "topic": "t", "partition": 1, "offset": 42, "leader_epoch": 5,
     "metadata": "meta"}
  ])"));
}

TEST(ClientTest, ShouldSendStateBase64EncodedWhenCommitting) {
  FakeServer server({answering({jsonAnswer(200, R"({"seal": 1, "partitions": 1})")})});
  Client client = clientOf(server);
  client.commit({{"g", "t", 3, 9}}, {{"k/bin", std::string("\0\xff", 2)}, {"k/text", "alpha"}},
                {"k/old"});
  const RawRequest r = server.requests().at(0);
  EXPECT_EQ(r.line(), "POST /v1/commit HTTP/1.1");
  EXPECT_EQ(nlohmann::json::parse(r.body), nlohmann::json::parse(R"({
    "offsets": [{"group": "g", "topic": "t", "partition": 3, "offset": 9}],
    "state": {"put": {"k/bin": "AP8=", "k/text": "YWxwaGE="}, "delete": ["k/old"]}
  })"));
}

TEST(ClientTest, ShouldReadCheckpointIdsAndDetailWhenAsked) {
  FakeServer server({answering({
      jsonAnswer(201, R"({"id": "1700000000000000"})"),
      jsonAnswer(200, R"({"checkpoints": [{"id": "1700000000000000", "created_at_ms": 1700000000000,
          "trigger": "request", "partitions": 1, "state_keys": 1, "state_bytes": 2}]})"),
      jsonAnswer(200, R"({"id": "1700000000000000", "created_at_ms": 1700000000000,
          "trigger": "request", "partitions": 1, "state_keys": 1, "state_bytes": 2, "job_id": "j",
          "offsets": [{"group": "g", "topic": "t", "partition": 0, "offset": 5,
                       "leader_epoch": -1, "metadata": null}],
          "state": [{"key": "k", "size": 2, "sha256": "ab", "content_type": "text/plain"}]})"),
  })});
  Client client = clientOf(server);
  EXPECT_EQ(client.checkpoint(), "1700000000000000");
  const auto list = client.checkpoints();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].trigger, "request");
  EXPECT_EQ(list[0].state_bytes, 2u);
  const CheckpointDetail d = client.getCheckpoint("1700000000000000");
  EXPECT_EQ(d.job_id, "j");
  ASSERT_EQ(d.offsets.size(), 1u);
  EXPECT_EQ(d.offsets[0].offset, 5);
  EXPECT_EQ(d.offsets[0].metadata, std::nullopt);
  ASSERT_EQ(d.state.size(), 1u);
  EXPECT_EQ(d.state[0].content_type, "text/plain");
  const auto requests = server.requests();
  EXPECT_EQ(requests[0].line(), "POST /v1/checkpoints HTTP/1.1");
  EXPECT_EQ(requests[0].header("content-length"), "0");
  EXPECT_EQ(requests[2].line(), "GET /v1/checkpoints/1700000000000000 HTTP/1.1");
}

TEST(ClientTest, ShouldThrowTransportErrorWhenAnswerIsNotTheJsonExpected) {
  FakeServer server({answering({jsonAnswer(200, "<html>"), jsonAnswer(200, R"({"keys": 3})")})});
  Client client = clientOf(server);
  EXPECT_THROW(client.checkpoints(), TransportError);
  EXPECT_THROW(client.listState(), TransportError);
}

TEST(ClientTest, ShouldThrowTransportErrorWhenNoSidecarListens) {
  uint16_t port;
  {
    FakeServer gone({});
    port = gone.port();
  }
  ClientOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(port);
  Client client(o);
  EXPECT_THROW(client.getState("k"), TransportError);
}

TEST(ClientTest, ShouldPrefixPathsWhenBaseUrlHasAPath) {
  FakeServer server({answering({jsonAnswer(200, R"({"checkpoints": []})")})});
  ClientOptions o;
  o.base_url = server.url() + "/tidemark/";
  Client client(o);
  EXPECT_TRUE(client.checkpoints().empty());
  EXPECT_EQ(server.requests().at(0).line(), "GET /tidemark/v1/checkpoints HTTP/1.1");
}

TEST(ClientTest, ShouldSendRotatedTokenWhenTokenFileChanges) {
  test_support::TempDir dir;
  const std::string path = dir.path() + "/token";
  std::ofstream(path) << "first\n";
  FakeServer server({answering({jsonAnswer(200, R"({"checkpoints": []})"),
                                jsonAnswer(200, R"({"checkpoints": []})"),
                                jsonAnswer(200, R"({"checkpoints": []})")})});
  ClientOptions o;
  o.base_url = server.url();
  o.token_file = path;
  Client client(o);
  client.checkpoints();
  // A rotation replaces the file (a new inode), as a Secret's symlink swap does.
  std::ofstream(path + ".new") << "second-token \r\n";
  std::rename((path + ".new").c_str(), path.c_str());
  client.checkpoints();
  // A half-written rotation (empty) keeps the last good token.
  std::ofstream(path + ".new") << "";
  std::rename((path + ".new").c_str(), path.c_str());
  client.checkpoints();
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].header("authorization"), "Bearer first");
  EXPECT_EQ(requests[1].header("authorization"), "Bearer second-token");
  EXPECT_EQ(requests[2].header("authorization"), "Bearer second-token");
}

TEST(ClientTest, ShouldRefuseOptionsWhenTheyCannotWork) {
  EXPECT_THROW(Client(ClientOptions{"https://127.0.0.1:8770"}), std::invalid_argument);
  EXPECT_THROW(Client(ClientOptions{"127.0.0.1:8770"}), std::invalid_argument);
  EXPECT_THROW(Client(ClientOptions{kDefaultBaseUrl, "t", "/tmp/file"}), std::invalid_argument);
  EXPECT_THROW(Client(ClientOptions{kDefaultBaseUrl, std::nullopt, "/nonexistent/token"}),
               std::invalid_argument);
  EXPECT_THROW(Client(ClientOptions{kDefaultBaseUrl, std::nullopt, std::nullopt,
                                    std::chrono::milliseconds(0)}),
               std::invalid_argument);
  EXPECT_NO_THROW(Client(ClientOptions{}));  // connects lazily
}

TEST(ClientTest, ShouldRefuseHeaderValuesWhenTheyWouldSplitTheHead) {
  Client client{ClientOptions{}};  // never connects: refused before sending
  PutOptions options;
  options.content_type = "text/plain\r\nX-Injected: 1";
  EXPECT_THROW(client.putState("k", "v", options), std::invalid_argument);
  EXPECT_THROW(client.deleteState("k", std::string("\"e\"\n")), std::invalid_argument);
}

TEST(ClientTest, ShouldRefuseStringsWhenJsonCannotCarryThem) {
  Client client{ClientOptions{}};
  EXPECT_THROW(client.markOffsets({{"g\xff", "t", 0, 1}}), std::invalid_argument);
}

// -- the error table ------------------------------------------------------------

template <typename E>
void expectThrownAs(int status, const std::string& body, const std::string& code) {
  try {
    detail::throwApiError(detail::parseApiError(status, body));
  } catch (const E& e) {
    EXPECT_EQ(e.status(), status);
    EXPECT_EQ(e.code(), code);
    return;
  } catch (...) {
    ADD_FAILURE() << status << " arrived as another type";
    return;
  }
}

TEST(ApiErrorTest, ShouldThrowTheTypedErrorOfEachStatusWhenSidecarRefuses) {
  const std::string body = R"({"error": {"code": "some_code", "message": "m"}})";
  expectThrownAs<BadRequest>(400, body, "some_code");
  expectThrownAs<Unauthenticated>(401, body, "some_code");
  expectThrownAs<NotFound>(404, body, "some_code");
  expectThrownAs<MethodNotAllowed>(405, body, "some_code");
  expectThrownAs<Conflict>(409, body, "some_code");
  expectThrownAs<PayloadTooLarge>(413, body, "some_code");
  expectThrownAs<ServerError>(503, body, "some_code");
  expectThrownAs<ServerError>(504, body, "some_code");
  expectThrownAs<Error>(431, body, "some_code");
}

TEST(ApiErrorTest, ShouldGiveUnknownCodeAndBodyTextWhenBodyIsNotTheApisError) {
  for (const std::string body :
       {"", "<html>bad gateway</html>", R"({"error": "x"})", "[1]", R"({"error": {"code": 5}})"}) {
    const detail::ApiError e = detail::parseApiError(502, body);
    EXPECT_EQ(e.code, "unknown") << body;
    EXPECT_EQ(e.message, body);
  }
}

}  // namespace
}  // namespace tidemark
