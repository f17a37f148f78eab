#include "sidecar/http/http_parser.h"

#include <algorithm>

namespace tidemark::http {
namespace {

// ASCII only: the C library's versions consult the locale on every call.
bool isDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool isAlpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
char asciiLower(unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c | 0x20 : c); }

// RFC 9110 §5.6.2 token characters.
bool isTchar(unsigned char c) {
  if (isDigit(c) || isAlpha(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!isTchar(c)) return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = asciiLower(static_cast<unsigned char>(c));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The next line of `in` from `pos`, without its CRLF or LF; nullopt when no
// line end is there yet. Advances `pos` past the line end.
std::optional<std::string_view> nextLine(std::string_view in, size_t& pos) {
  size_t lf = in.find('\n', pos);
  if (lf == std::string_view::npos) return std::nullopt;
  std::string_view line = in.substr(pos, lf - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos = lf + 1;
  return line;
}

Parse fail(ParseError& error, int status, std::string message) {
  error.status = status;
  error.message = std::move(message);
  return Parse::kError;
}

Parse parseRequestLine(std::string_view line, RequestHead& head, ParseError& error) {
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(error, 400, "malformed request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!isToken(method)) return fail(error, 400, "malformed request method");
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !isDigit(version[5]) ||
      version[6] != '.' || !isDigit(version[7])) {
    return fail(error, 400, "malformed HTTP version");
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    return fail(error, 505, "only HTTP/1.0 and HTTP/1.1 are served");
  }
  if (target.empty() || target.front() != '/') {
    return fail(error, 400, "the request target must be a path starting with '/'");
  }
  for (unsigned char c : target) {
    if (c <= 0x20 || c >= 0x7f) return fail(error, 400, "malformed request target");
  }
  head.method = std::string(method);
  size_t q = target.find('?');
  head.path = std::string(target.substr(0, q));
  head.query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  head.minor_version = version[7] - '0';
  head.keep_alive = head.minor_version == 1;
  return Parse::kDone;
}

Parse applyHeader(std::string_view name, std::string_view value, RequestHead& head,
                  ParseError& error) {
  std::string key = lower(name);
  if (key == "content-length") {
    if (value.empty() || value.size() > 18) return fail(error, 400, "malformed Content-Length");
    uint64_t n = 0;
    for (char c : value) {
      if (!isDigit(static_cast<unsigned char>(c))) {
        return fail(error, 400, "malformed Content-Length");
      }
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (head.content_length && *head.content_length != n) {
      return fail(error, 400, "conflicting Content-Length headers");
    }
    head.content_length = n;
  } else if (key == "transfer-encoding") {
    if (lower(value) != "chunked") {
      return fail(error, 501, "transfer coding '" + std::string(value) + "' is not supported");
    }
    head.chunked = true;
  } else if (key == "connection") {
    std::string v = lower(value);
    if (v.find("close") != std::string::npos) head.keep_alive = false;
    if (v.find("keep-alive") != std::string::npos && head.minor_version == 0) {
      head.keep_alive = true;
    }
  } else if (key == "expect") {
    head.expect_continue = lower(value) == "100-continue";
  }
  auto [it, fresh] = head.headers.try_emplace(std::move(key), value);
  if (!fresh) it->second.append(", ").append(value);
  return Parse::kDone;
}

}  // namespace

Parse parseHead(std::string_view in, size_t max_head_bytes, RequestHead& head, size_t& consumed,
                ParseError& error) {
  head = RequestHead{};
  size_t pos = 0;
  bool have_request_line = false;
  while (true) {
    const size_t line_start = pos;
    auto line = nextLine(in, pos);
    if (!line) {
      if (in.size() > max_head_bytes) return fail(error, 431, "request head too large");
      return Parse::kIncomplete;
    }
    if (pos > max_head_bytes) return fail(error, 431, "request head too large");
    if (!have_request_line) {
      if (line->empty()) continue;  // RFC 9112 §2.2: ignore empty lines before a request
      if (parseRequestLine(*line, head, error) == Parse::kError) return Parse::kError;
      have_request_line = true;
      continue;
    }
    if (line->empty()) {
      consumed = pos;
      break;
    }
    if (line->front() == ' ' || line->front() == '\t') {
      return fail(error, 400, "folded header lines are not accepted");
    }
    size_t colon = line->find(':');
    if (colon == std::string_view::npos || !isToken(line->substr(0, colon))) {
      return fail(error, 400, "malformed header line " + std::to_string(line_start));
    }
    std::string_view value = trim(line->substr(colon + 1));
    for (unsigned char c : value) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return fail(error, 400, "control character in a header value");
      }
    }
    if (applyHeader(line->substr(0, colon), value, head, error) == Parse::kError) {
      return Parse::kError;
    }
  }
  if (head.chunked && head.content_length) {
    return fail(error, 400, "Content-Length and Transfer-Encoding together");
  }
  return Parse::kDone;
}

Parse ChunkedDecoder::feed(std::string_view in, size_t& consumed, std::string& body,
                           ParseError& error) {
  size_t pos = 0;
  consumed = 0;
  while (state_ != State::kDone) {
    if (state_ == State::kData) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size() - pos));
      body.append(in.substr(pos, n));
      pos += n;
      remaining_ -= n;
      consumed = pos;
      if (remaining_ > 0) return Parse::kIncomplete;
      state_ = State::kDataEnd;
      continue;
    }
    auto line = nextLine(in, pos);
    if (!line) {
      // A size line or trailer this long is not a chunked body we accept.
      if (in.size() - consumed > 8192) return fail(error, 400, "malformed chunked body");
      return Parse::kIncomplete;
    }
    if (state_ == State::kDataEnd) {
      if (!line->empty()) return fail(error, 400, "chunk data longer than its size");
      state_ = State::kSize;
    } else if (state_ == State::kSize) {
      std::string_view digits = line->substr(0, line->find(';'));
      digits = trim(digits);
      if (digits.empty() || digits.size() > 15) return fail(error, 400, "malformed chunk size");
      uint64_t size = 0;
      for (char c : digits) {
        const char l = asciiLower(static_cast<unsigned char>(c));
        const int v = isDigit(l) ? l - '0' : (l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1);
        if (v < 0) return fail(error, 400, "malformed chunk size");
        size = size * 16 + static_cast<uint64_t>(v);
      }
      if (size > max_body_ - std::min<size_t>(max_body_, body.size())) {
        return fail(error, 413, "request body larger than " + std::to_string(max_body_) + " bytes");
      }
      remaining_ = size;
      state_ = size == 0 ? State::kTrailer : State::kData;
    } else if (state_ == State::kTrailer) {
      if (line->empty()) state_ = State::kDone;
    }
    consumed = pos;
  }
  return Parse::kDone;
}

}  // namespace tidemark::http
