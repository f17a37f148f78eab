#include "sidecar/event/tcp_stream.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "sidecar/event/tcp_listener.h"

namespace tidemark::event {
namespace {

// A loop with a listener whose accepted connections echo every byte back
// (input moved to output without copying), pausing under backpressure.
class TcpStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = EventLoop::create();
    ASSERT_TRUE(loop.isOk());
    loop_ = std::move(*loop);
    dns_ = std::make_unique<DnsResolver>(*loop_);
    auto listener = TcpListener::listen(*loop_, {"127.0.0.1", 0}, [this](int fd, std::string p) {
      server_ = TcpStream::adopt(*loop_, fd, std::move(p),
                                 {.on_data = [this] { echo(*server_); },
                                  .on_drained = [this] { server_->resumeReading(); },
                                  .on_closed = [this](std::string) { server_closed_ = true; }});
    });
    ASSERT_TRUE(listener.isOk());
    listener_ = std::move(*listener);
  }

  void echo(TcpStream& s) {
    if (server_close_after_flush_) return;
    s.moveTo(s, s.inputSize());
    if (s.outputSize() > (1 << 20)) s.pauseReading();
  }

  uint16_t port() const { return listener_->address().port; }

  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<DnsResolver> dns_;
  std::unique_ptr<TcpListener> listener_;
  std::unique_ptr<TcpStream> server_;
  bool server_closed_ = false;
  bool server_close_after_flush_ = false;
};

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 4096) & 0xff);
  return s;
}

TEST_F(TcpStreamTest, ShouldEchoEveryByteInOrderWhenMuchMoreThanTheSocketBuffersIsSent) {
  const std::string sent = pattern(16 << 20);
  std::string got;
  std::unique_ptr<TcpStream> client;
  client = TcpStream::connect(*loop_, dns_->base(), "127.0.0.1", port(),
                              {.on_data =
                                   [&] {
                                     got += client->take(client->inputSize());
                                     if (got.size() >= sent.size()) loop_->stop();
                                   },
                               .on_closed = [&](std::string) { loop_->stop(); }});
  // Written before the connect completes: must be sent once it does.
  for (size_t off = 0; off < sent.size(); off += 100'000)
    client->write(std::string_view(sent).substr(off, 100'000));
  ASSERT_TRUE(loop_->run().isOk());
  ASSERT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
}

TEST_F(TcpStreamTest, ShouldCallOnConnectedOnceWhenTheConnectCompletes) {
  int connected = 0;
  auto client = TcpStream::connect(*loop_, dns_->base(), "127.0.0.1", port(),
                                   {.on_connected =
                                        [&] {
                                          ++connected;
                                          loop_->stop();
                                        },
                                    .on_closed = [&](std::string) { loop_->stop(); }});
  ASSERT_TRUE(loop_->run().isOk());
  EXPECT_EQ(connected, 1);
  EXPECT_FALSE(client->closed());
}

TEST_F(TcpStreamTest, ShouldResolveAHostNameWhenConnecting) {
  std::string got;
  std::unique_ptr<TcpStream> client;
  client = TcpStream::connect(*loop_, dns_->base(), "localhost", port(),
                              {.on_data =
                                   [&] {
                                     got += client->take(client->inputSize());
                                     if (got.size() >= 5) loop_->stop();
                                   },
                               .on_closed = [&](std::string) { loop_->stop(); }});
  client->write("hello");
  ASSERT_TRUE(loop_->run().isOk());
  EXPECT_EQ(got, "hello");
}

TEST_F(TcpStreamTest, ShouldReportARefusedConnectThroughOnClosed) {
  const uint16_t unused = port();
  listener_.reset();  // nothing listens there any more
  std::string reason;
  auto client = TcpStream::connect(*loop_, dns_->base(), "127.0.0.1", unused,
                                   {.on_closed = [&](std::string r) {
                                     reason = r;
                                     loop_->stop();
                                   }});
  if (reason.empty()) {
    ASSERT_TRUE(loop_->run().isOk());
  }
  EXPECT_EQ(reason, "Connection refused");
  EXPECT_TRUE(client->closed());
}

TEST_F(TcpStreamTest, ShouldSendEveryQueuedByteBeforeClosingAfterFlush) {
  server_close_after_flush_ = true;
  const std::string reply = pattern(8 << 20);
  std::string got;
  std::string reason;
  std::unique_ptr<TcpStream> client;
  client = TcpStream::connect(*loop_, dns_->base(), "127.0.0.1", port(),
                              {.on_data = [&] { got += client->take(client->inputSize()); },
                               .on_closed =
                                   [&](std::string r) {
                                     reason = r;
                                     loop_->stop();
                                   }});
  client->write("go");
  // Once the server side exists, queue the reply and ask for a close after it.
  std::unique_ptr<Timer> start;
  start = loop_->createTimer([&] {
    if (server_ == nullptr) return start->arm(std::chrono::milliseconds(1));
    server_->write(reply);
    server_->closeAfterFlush();
  });
  start->arm(std::chrono::milliseconds(1));
  ASSERT_TRUE(loop_->run().isOk());
  EXPECT_EQ(reason, "peer closed the connection");
  ASSERT_EQ(got.size(), reply.size());
  EXPECT_TRUE(got == reply);
}

TEST_F(TcpStreamTest, ShouldNotCallOnClosedWhenTheOwnerCloses) {
  bool notified = false;
  auto client = TcpStream::connect(*loop_, dns_->base(), "127.0.0.1", port(),
                                   {.on_closed = [&](std::string) { notified = true; }});
  client->write("dropped");
  client->close();
  auto stop = loop_->createTimer([&] { loop_->stop(); });
  stop->arm(std::chrono::milliseconds(50));
  ASSERT_TRUE(loop_->run().isOk());
  EXPECT_FALSE(notified);
  EXPECT_TRUE(client->closed());
  EXPECT_EQ(client->outputSize(), 0u);
}

}  // namespace
}  // namespace tidemark::event
