#pragma once

// An incremental HTTP/1.1 response parser: bytes in, one response out. Pure
// (no I/O), so framing is tested byte by byte without a socket.
//
// Framing (RFC 9112 §6.3): 1xx answers are skipped; 204 and 304 have no body;
// Transfer-Encoding ending in chunked is read chunk by chunk (extensions and
// trailers ignored); else Content-Length; else the body runs until the server
// closes (and the connection is not reused).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tidemark::detail {

struct HttpResponse {
  int status = 0;
  int minor_version = 1;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // Whether the connection may carry the next request (HTTP/1.1 without
  // "Connection: close", HTTP/1.0 with "Connection: keep-alive", a framed body).
  bool keep_alive = true;

  // The first header named `lower_name`, or nullopt.
  std::optional<std::string> header(std::string_view lower_name) const;
};

enum class ParseStatus { kIncomplete, kDone, kError };

class ResponseParser {
 public:
  // Consumes the bytes of `data` that belong to this response and sets
  // `consumed` to their count: bytes after a complete response are left alone.
  // After kDone or kError, further calls change nothing.
  ParseStatus feed(std::string_view data, size_t& consumed);
  // The server closed the connection: completes a body that runs until the
  // close; anything else unfinished is kError.
  ParseStatus finish();

  // Whether any byte of the answer arrived (a connection closed before that
  // was closed before the server answered).
  bool started() const { return started_; }
  // Valid after kDone; may be moved from.
  HttpResponse& response() { return response_; }
  // Why, after kError.
  const std::string& error() const { return error_; }

 private:
  enum class Phase {
    kHead,
    kFixedBody,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kUntilClose,
    kDone,
    kError
  };

  ParseStatus fail(std::string why);
  // Takes bytes up to and including a line end into line_; true once a whole
  // line is there (without its CRLF or LF).
  bool takeLine(std::string_view data, size_t& pos, std::string& line);
  ParseStatus parseHead();
  ParseStatus startBody();
  ParseStatus onChunkSize(std::string_view line);

  Phase phase_ = Phase::kHead;
  bool started_ = false;
  std::string head_;  // the head so far, up to its blank line
  std::string line_;  // a chunk-size or trailer line so far
  size_t remaining_ = 0;
  HttpResponse response_;
  std::string error_;
};

}  // namespace tidemark::detail
