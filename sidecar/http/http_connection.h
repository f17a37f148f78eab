#pragma once

// One client connection of the HttpServer (internal to sidecar/http): reads
// and frames requests (http_parser.h), resolves each head against the server's
// routes before reading its body, and writes answers in request order however
// late their handlers reply.

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "sidecar/event/tcp_stream.h"
#include "sidecar/http/http_parser.h"
#include "sidecar/http/http_server.h"

namespace tidemark::http {

class HttpServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(HttpServer& server) : server_(server) {}
  void attach(std::unique_ptr<event::TcpStream> stream) { stream_ = std::move(stream); }

  // Input arrived: frame and dispatch what is complete.
  void onData();
  void close() { stream_->close(); }
  bool idleSince(std::chrono::steady_clock::time_point t) const {
    return slots_.empty() && last_active_ < t;
  }
  size_t inFlight() const { return slots_.size(); }
  // Whether a request began arriving before `t` and has not arrived whole.
  bool arrivingSince(std::chrono::steady_clock::time_point t) const {
    return arriving_since_.has_value() && *arriving_since_ < t;
  }
  // Answers the request still arriving 408 and closes once it is written.
  void timeOut(std::chrono::milliseconds timeout);

 private:
  enum class Phase { kHead, kBody, kChunked, kDiscard, kDone };
  // One answer's place in the output order.
  struct Slot {
    bool ready = false;
    std::string bytes;
    bool close = false;
    int minor_version = 1;  // of the request it answers
  };

  bool step();  // one framing step; false when it needs more input or must stop
  void begin();
  void dispatch();
  // Answers the current request without reading its body: the body is
  // skipped (bounded) or, when it cannot be, the connection closes.
  void refuse(Response response);
  uint64_t openSlot(bool close);
  void complete(uint64_t seq, const Response& response, bool head_only);
  void flush();

  HttpServer& server_;
  std::unique_ptr<event::TcpStream> stream_;
  std::string in_;
  size_t pos_ = 0;
  Phase phase_ = Phase::kHead;
  bool processing_ = false;
  bool paused_ = false;
  std::chrono::steady_clock::time_point last_active_ = std::chrono::steady_clock::now();
  // When the first byte of the request now arriving came (head, body or a
  // refused body being skipped); unset between requests.
  std::optional<std::chrono::steady_clock::time_point> arriving_since_;

  // The request being read.
  RequestHead head_;
  Resolved resolved_;
  std::string body_;
  uint64_t body_remaining_ = 0;
  std::optional<ChunkedDecoder> chunked_;
  uint64_t discard_remaining_ = 0;

  std::deque<Slot> slots_;
  uint64_t first_seq_ = 0;  // sequence number of slots_.front()
  uint64_t next_seq_ = 0;
};

}  // namespace tidemark::http
