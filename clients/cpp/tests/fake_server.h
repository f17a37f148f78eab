#pragma once

// Test support: a scripted HTTP server on 127.0.0.1 (an ephemeral port) for
// the connection and client tests, which need a server that misbehaves on
// cue: answers chunked, closes an idle connection, drops a request unanswered.
//
// Connections are accepted one after another on the server's thread; the i-th
// is handed to scripts[i], and closed when its script returns. Connections
// beyond the scripts are closed at once. Every request a script reads is kept.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace tidemark::test_support {

struct RawRequest {
  std::string head;  // request line and headers, without the blank line
  std::string body;  // by Content-Length

  std::string line() const { return head.substr(0, head.find("\r\n")); }
  // The value of the first header `name` (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

class FakeServer {
 public:
  class Conn {
   public:
    explicit Conn(int fd, FakeServer& server) : fd_(fd), server_(server) {}
    // The next request; nullopt when the client closed the connection.
    std::optional<RawRequest> read();
    void write(std::string_view raw);
    // Closes now (the client sees EOF); the script may return after.
    void close();
    bool closed() const { return fd_ < 0; }

   private:
    int fd_;
    FakeServer& server_;
    std::string buffer_;
  };
  using Script = std::function<void(Conn&)>;

  explicit FakeServer(std::vector<Script> scripts);
  ~FakeServer();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  std::vector<RawRequest> requests();
  // Blocks until `n` connections were closed by the server side.
  void waitClosed(int n);

  // Canned answers.
  static std::string answer(int status, std::string_view body, std::string_view extra_headers = "");

 private:
  void run(std::vector<Script> scripts);

  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<RawRequest> requests_;
  int closed_ = 0;
  std::thread thread_;
};

}  // namespace tidemark::test_support
