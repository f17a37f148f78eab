#pragma once

// HTTP/1.1 request framing for the local API (RFC 9112), kept apart from the
// sockets so it can be tested and fuzzed on bytes alone. No allocation beyond
// the parsed fields; never reads past the view it is given.
//
// Deliberately strict where leniency lets two parties disagree on where a
// request ends (request smuggling): Content-Length together with
// Transfer-Encoding, differing Content-Lengths, a transfer coding other than
// chunked, obs-fold header lines, and whitespace before a header's colon are
// all refused. A bare LF ending a line is accepted (RFC 9112 §2.2 allows it).

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tidemark::http {

// Why a request could not be framed: the status to answer with, then close.
struct ParseError {
  int status = 400;  // 400, 413, 431, 501 or 505
  std::string message;
};

struct RequestHead {
  std::string method;
  std::string path;   // the target before '?', undecoded; starts with '/'
  std::string query;  // after '?', undecoded, without the '?'
  int minor_version = 1;
  std::map<std::string, std::string> headers;  // lower-case names; repeats joined by ", "
  std::optional<uint64_t> content_length;
  bool chunked = false;
  bool keep_alive = true;        // after the answer, read the next request
  bool expect_continue = false;  // "Expect: 100-continue"
};

enum class Parse { kIncomplete, kDone, kError };

// Parses the request head at the start of `in` (request line, headers, the
// empty line). kDone: `head` filled, `consumed` = the head's length.
// kIncomplete: more bytes needed (kError instead once `in` holds more than
// `max_head_bytes` without the head's end: 431).
Parse parseHead(std::string_view in, size_t max_head_bytes, RequestHead& head, size_t& consumed,
                ParseError& error);

// Decodes a chunked body incrementally (RFC 9112 §7.1); chunk extensions and
// trailer fields are read and ignored.
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(size_t max_body_bytes) : max_body_(max_body_bytes) {}
  // Consumes what it can of `in` (`consumed` bytes), appending data to
  // `body`. kDone once the last chunk and trailers are read; kError with 413
  // when the body would exceed the limit, 400 when malformed.
  Parse feed(std::string_view in, size_t& consumed, std::string& body, ParseError& error);

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone };
  State state_ = State::kSize;
  uint64_t remaining_ = 0;
  size_t max_body_;
};

}  // namespace tidemark::http
