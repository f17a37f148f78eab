// The connection layer against a scripted server: keep-alive reuse, chunked
// answers off the wire, and what happens when the server closes a connection
// the client holds idle — before the next request (found and replaced), or
// racing it (an idempotent request is sent again once; a POST never).

#include "http_connection.h"

#include <gtest/gtest.h>

#include "fake_server.h"

namespace tidemark::detail {
namespace {

using std::chrono::milliseconds;
using test_support::FakeServer;

BaseUrl endpointOf(const FakeServer& server) {
  std::string why;
  return *parseBaseUrl(server.url(), why);
}

HttpRequest get(std::string target) {
  HttpRequest r;
  r.method = "GET";
  r.target = std::move(target);
  return r;
}

HttpRequest post(std::string target, std::string_view body) {
  HttpRequest r;
  r.method = "POST";
  r.target = std::move(target);
  r.body = body;
  r.send_length = true;
  return r;
}

constexpr milliseconds kTimeout{5000};

// Answers every request on the connection with 200 "n" (n: its number).
void answerAll(FakeServer::Conn& c) {
  for (int n = 1; c.read(); ++n) c.write(FakeServer::answer(200, std::to_string(n)));
}

TEST(HttpConnectionTest, ShouldReuseOneConnectionWhenServerKeepsItAlive) {
  FakeServer server({answerAll});
  HttpConnection conn(endpointOf(server));
  for (int i = 1; i <= 3; ++i) {
    Exchange e = conn.exchange(get("/v1/state/k"), kTimeout);
    ASSERT_TRUE(e.response) << e.failure;
    EXPECT_EQ(e.response->body, std::to_string(i));
  }
  EXPECT_EQ(conn.connectionsOpened(), 1);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].line(), "GET /v1/state/k HTTP/1.1");
  EXPECT_EQ(requests[0].header("host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(requests[0].header("content-length"), std::nullopt);
}

TEST(HttpConnectionTest, ShouldSendBodyWithContentLengthWhenPosting) {
  FakeServer server({answerAll});
  HttpConnection conn(endpointOf(server));
  const std::string body("a\0b\xff", 4);
  ASSERT_TRUE(conn.exchange(post("/v1/offsets", body), kTimeout).response);
  ASSERT_TRUE(conn.exchange(post("/v1/checkpoints", ""), kTimeout).response);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].header("content-length"), "4");
  EXPECT_EQ(requests[0].body, body);
  EXPECT_EQ(requests[1].header("content-length"), "0");
}

TEST(HttpConnectionTest, ShouldReadChunkedAnswerWhenServerStreamsIt) {
  FakeServer server({[](FakeServer::Conn& c) {
    ASSERT_TRUE(c.read());
    c.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"ke");
    c.write("\r\n9\r\nys\": []}\n\r\n0\r\n\r\n");
    answerAll(c);  // still usable afterwards
  }});
  HttpConnection conn(endpointOf(server));
  Exchange e = conn.exchange(get("/v1/state"), kTimeout);
  ASSERT_TRUE(e.response) << e.failure;
  EXPECT_EQ(e.response->body, "{\"keys\": []}\n");
  ASSERT_TRUE(conn.exchange(get("/v1/state"), kTimeout).response);
  EXPECT_EQ(conn.connectionsOpened(), 1);
}

TEST(HttpConnectionTest, ShouldOpenNewConnectionWhenServerAnsweredWithConnectionClose) {
  FakeServer server({[](FakeServer::Conn& c) {
                       ASSERT_TRUE(c.read());
                       c.write(FakeServer::answer(200, "one", "Connection: close\r\n"));
                     },
                     answerAll});
  HttpConnection conn(endpointOf(server));
  ASSERT_TRUE(conn.exchange(get("/a"), kTimeout).response);
  Exchange e = conn.exchange(get("/b"), kTimeout);
  ASSERT_TRUE(e.response) << e.failure;
  EXPECT_EQ(conn.connectionsOpened(), 2);
}

// The sidecar closes connections idle for 60s. When its close has arrived
// before the next request, even a POST is safe: it goes on a new connection.
TEST(HttpConnectionTest, ShouldReplaceConnectionBeforeSendingWhenServerClosedItWhileIdle) {
  FakeServer server({[](FakeServer::Conn& c) {
                       ASSERT_TRUE(c.read());
                       c.write(FakeServer::answer(200, "first"));
                       c.close();  // the idle close
                     },
                     answerAll});
  HttpConnection conn(endpointOf(server));
  ASSERT_TRUE(conn.exchange(get("/v1/state"), kTimeout).response);
  server.waitClosed(1);

  const std::string body = "[]";
  Exchange e = conn.exchange(post("/v1/offsets", body), kTimeout);
  ASSERT_TRUE(e.response) << e.failure;
  EXPECT_EQ(conn.connectionsOpened(), 2);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].line(), "POST /v1/offsets HTTP/1.1");
}

// The close races the request: the request went out on the old connection,
// which then closed with no answer. A GET is sent once more.
TEST(HttpConnectionTest,
     ShouldResendOnceWhenReusedConnectionClosesBeforeAnswerToIdempotentRequest) {
  FakeServer server({[](FakeServer::Conn& c) {
                       ASSERT_TRUE(c.read());
                       c.write(FakeServer::answer(200, "first"));
                       ASSERT_TRUE(c.read());  // read, then closed unanswered
                     },
                     answerAll});
  HttpConnection conn(endpointOf(server));
  ASSERT_TRUE(conn.exchange(get("/first"), kTimeout).response);
  Exchange e = conn.exchange(get("/second"), kTimeout);
  ASSERT_TRUE(e.response) << e.failure;
  EXPECT_EQ(e.response->body, "1");
  EXPECT_EQ(conn.connectionsOpened(), 2);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1].line(), "GET /second HTTP/1.1");
  EXPECT_EQ(requests[2].line(), "GET /second HTTP/1.1");
}

TEST(HttpConnectionTest, ShouldNotResendPostWhenReusedConnectionClosesBeforeAnswer) {
  FakeServer server({[](FakeServer::Conn& c) {
                       ASSERT_TRUE(c.read());
                       c.write(FakeServer::answer(200, "first"));
                       ASSERT_TRUE(c.read());
                     },
                     answerAll});
  HttpConnection conn(endpointOf(server));
  ASSERT_TRUE(conn.exchange(get("/first"), kTimeout).response);
  Exchange e = conn.exchange(post("/v1/commit", "{}"), kTimeout);
  ASSERT_FALSE(e.response);
  EXPECT_NE(e.failure.find("POST http://127.0.0.1:"), std::string::npos) << e.failure;
  EXPECT_NE(e.failure.find("closed before an answer"), std::string::npos) << e.failure;
  EXPECT_EQ(conn.connectionsOpened(), 1);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(HttpConnectionTest, ShouldNotResendWhenFreshConnectionClosesBeforeAnswer) {
  FakeServer server({[](FakeServer::Conn& c) { ASSERT_TRUE(c.read()); }, answerAll});
  HttpConnection conn(endpointOf(server));
  Exchange e = conn.exchange(get("/x"), kTimeout);
  ASSERT_FALSE(e.response);
  EXPECT_EQ(conn.connectionsOpened(), 1);
}

TEST(HttpConnectionTest, ShouldFailWithoutHangingWhenServerNeverAnswers) {
  FakeServer server({[](FakeServer::Conn& c) {
    ASSERT_TRUE(c.read());
    c.read();  // returns when the client gives up and closes
  }});
  HttpConnection conn(endpointOf(server));
  const auto started = std::chrono::steady_clock::now();
  Exchange e = conn.exchange(get("/slow"), milliseconds(200));
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(e.response);
  EXPECT_NE(e.failure.find("no answer in time"), std::string::npos) << e.failure;
  EXPECT_GE(took, milliseconds(190));
  EXPECT_LT(took, milliseconds(3000));
}

TEST(HttpConnectionTest, ShouldFailWhenNothingListens) {
  uint16_t port;
  {
    FakeServer gone({});
    port = gone.port();
  }
  std::string why;
  HttpConnection conn(*parseBaseUrl("http://127.0.0.1:" + std::to_string(port), why));
  Exchange e = conn.exchange(get("/"), kTimeout);
  ASSERT_FALSE(e.response);
  EXPECT_NE(e.failure.find("cannot connect"), std::string::npos) << e.failure;
}

TEST(HttpConnectionTest, ShouldFailWhenAnswerIsNotHttp) {
  FakeServer server({[](FakeServer::Conn& c) {
    ASSERT_TRUE(c.read());
    c.write("SSH-2.0-OpenSSH_9.2\r\n\r\n");
  }});
  HttpConnection conn(endpointOf(server));
  Exchange e = conn.exchange(get("/"), kTimeout);
  ASSERT_FALSE(e.response);
  EXPECT_NE(e.failure.find("malformed answer"), std::string::npos) << e.failure;
}

TEST(HttpConnectionTest, ShouldReplaceConnectionWhenItSatIdleBeyondTheLimit) {
  FakeServer server({answerAll, answerAll});
  HttpConnection conn(endpointOf(server), milliseconds(0));
  ASSERT_TRUE(conn.exchange(get("/a"), kTimeout).response);
  ASSERT_TRUE(conn.exchange(get("/b"), kTimeout).response);
  EXPECT_EQ(conn.connectionsOpened(), 2);
}

}  // namespace
}  // namespace tidemark::detail
