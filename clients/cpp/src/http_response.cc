#include "http_response.h"

#include <algorithm>

namespace tidemark::detail {
namespace {

// Larger heads or chunk/trailer lines are refused, not buffered without end.
constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kMaxLineBytes = 8 * 1024;

char asciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), asciiLower);
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The comma-separated, lower-cased tokens of every header named `name`.
std::vector<std::string> tokens(const HttpResponse& r, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [n, value] : r.headers) {
    if (n != name) continue;
    std::string_view rest = value;
    while (true) {
      const size_t comma = rest.find(',');
      std::string_view t = trim(rest.substr(0, comma));
      if (!t.empty()) out.push_back(lower(t));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return out;
}

// The end of the head's blank line in `head` (just past it), searching from
// `from`; npos when it has not arrived.
size_t headEnd(const std::string& head, size_t from) {
  const size_t lf_lf = head.find("\n\n", from);
  const size_t lf_crlf = head.find("\n\r\n", from);
  if (lf_lf == std::string::npos && lf_crlf == std::string::npos) return std::string::npos;
  if (lf_crlf == std::string::npos || (lf_lf != std::string::npos && lf_lf < lf_crlf)) {
    return lf_lf + 2;
  }
  return lf_crlf + 3;
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return std::nullopt;
}

ParseStatus ResponseParser::fail(std::string why) {
  phase_ = Phase::kError;
  error_ = std::move(why);
  return ParseStatus::kError;
}

bool ResponseParser::takeLine(std::string_view data, size_t& pos, std::string& line) {
  const size_t lf = data.find('\n', pos);
  if (lf == std::string_view::npos) {
    line.append(data.substr(pos));
    pos = data.size();
    return false;
  }
  line.append(data.substr(pos, lf - pos));
  if (!line.empty() && line.back() == '\r') line.pop_back();
  pos = lf + 1;
  return true;
}

ParseStatus ResponseParser::feed(std::string_view data, size_t& consumed) {
  size_t pos = 0;
  if (!data.empty()) started_ = true;
  while (true) {
    const std::string_view avail = data.substr(pos);
    switch (phase_) {
      case Phase::kHead: {
        if (avail.empty()) return consumed = pos, ParseStatus::kIncomplete;
        const size_t before = head_.size();
        head_.append(avail.substr(0, kMaxHeadBytes + 4 - std::min(before, kMaxHeadBytes)));
        const size_t end = headEnd(head_, before >= 2 ? before - 2 : 0);
        if (end == std::string::npos) {
          if (head_.size() > kMaxHeadBytes) return fail("response head larger than 64KiB");
          pos = data.size();
          continue;
        }
        pos += end - before;
        head_.resize(end);
        if (ParseStatus s = parseHead(); s != ParseStatus::kIncomplete) {
          consumed = pos;
          return s;
        }
        continue;
      }
      case Phase::kFixedBody:
      case Phase::kChunkData: {
        const size_t n = std::min(remaining_, avail.size());
        response_.body.append(avail.substr(0, n));
        pos += n;
        remaining_ -= n;
        if (remaining_ > 0) return consumed = pos, ParseStatus::kIncomplete;
        if (phase_ == Phase::kFixedBody) {
          phase_ = Phase::kDone;
          return consumed = pos, ParseStatus::kDone;
        }
        phase_ = Phase::kChunkDataEnd;
        continue;
      }
      case Phase::kChunkSize:
      case Phase::kChunkDataEnd:
      case Phase::kTrailers: {
        if (!takeLine(data, pos, line_)) {
          if (line_.size() > kMaxLineBytes) return fail("chunk framing line too long");
          return consumed = pos, ParseStatus::kIncomplete;
        }
        std::string line = std::move(line_);
        line_.clear();
        if (phase_ == Phase::kChunkSize) {
          if (ParseStatus s = onChunkSize(line); s == ParseStatus::kError) return s;
        } else if (phase_ == Phase::kChunkDataEnd) {
          if (!line.empty()) return fail("chunk data not followed by CRLF");
          phase_ = Phase::kChunkSize;
        } else if (line.empty()) {  // the blank line after the trailers
          phase_ = Phase::kDone;
          return consumed = pos, ParseStatus::kDone;
        }
        continue;
      }
      case Phase::kUntilClose:
        response_.body.append(avail);
        return consumed = data.size(), ParseStatus::kIncomplete;
      case Phase::kDone:
        return consumed = pos, ParseStatus::kDone;
      case Phase::kError:
        return consumed = pos, ParseStatus::kError;
    }
  }
}

ParseStatus ResponseParser::finish() {
  switch (phase_) {
    case Phase::kUntilClose:
      phase_ = Phase::kDone;
      return ParseStatus::kDone;
    case Phase::kDone:
      return ParseStatus::kDone;
    case Phase::kError:
      return ParseStatus::kError;
    default:
      return fail(started_ ? "the connection closed in the middle of the answer"
                           : "the connection closed before an answer");
  }
}

ParseStatus ResponseParser::parseHead() {
  std::string_view head = head_;
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    const size_t lf = head.find('\n');
    std::string_view line = head.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    lines.push_back(line);
    head.remove_prefix(lf == std::string_view::npos ? head.size() : lf + 1);
  }
  if (lines.empty()) return fail("empty response head");
  // "HTTP/1.x SSS[ reason]"
  const std::string_view status_line = lines[0];
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." ||
      !isDigit(status_line[7]) || status_line[8] != ' ' || !isDigit(status_line[9]) ||
      !isDigit(status_line[10]) || !isDigit(status_line[11]) ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return fail("malformed status line: " + std::string(status_line.substr(0, 100)));
  }
  response_ = HttpResponse{};
  response_.minor_version = status_line[7] - '0';
  response_.status =
      (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || line.front() == ' ' ||
        line.front() == '\t' || trim(line.substr(0, colon)).size() != colon) {
      return fail("malformed header line: " + std::string(line.substr(0, 100)));
    }
    response_.headers.emplace_back(lower(line.substr(0, colon)),
                                   std::string(trim(line.substr(colon + 1))));
  }
  head_.clear();
  if (response_.status >= 100 && response_.status < 200) {
    // An interim answer (100 Continue, 103 Early Hints): the real one follows.
    if (response_.status == 101) return fail("unexpected 101 Switching Protocols");
    response_ = HttpResponse{};
    return ParseStatus::kIncomplete;
  }
  return startBody();
}

ParseStatus ResponseParser::startBody() {
  const std::vector<std::string> connection = tokens(response_, "connection");
  const auto has = [&](const char* t) {
    return std::find(connection.begin(), connection.end(), t) != connection.end();
  };
  response_.keep_alive = response_.minor_version >= 1 ? !has("close") : has("keep-alive");

  if (response_.status == 204 || response_.status == 304) {
    phase_ = Phase::kDone;
    return ParseStatus::kDone;
  }
  const std::vector<std::string> coding = tokens(response_, "transfer-encoding");
  if (!coding.empty()) {
    // Transfer-Encoding overrides Content-Length; a final coding other than
    // chunked leaves the close to delimit the body.
    if (coding.back() == "chunked") {
      phase_ = Phase::kChunkSize;
    } else {
      response_.keep_alive = false;
      phase_ = Phase::kUntilClose;
    }
    return ParseStatus::kIncomplete;
  }
  std::optional<size_t> length;
  for (const std::string& value : tokens(response_, "content-length")) {
    if (value.size() > 15 || !std::all_of(value.begin(), value.end(), isDigit)) {
      return fail("malformed Content-Length: " + value);
    }
    const size_t n = std::stoull(value);
    if (length && *length != n) return fail("conflicting Content-Length headers");
    length = n;
  }
  if (!length) {
    response_.keep_alive = false;
    phase_ = Phase::kUntilClose;
    return ParseStatus::kIncomplete;
  }
  if (*length == 0) {
    phase_ = Phase::kDone;
    return ParseStatus::kDone;
  }
  response_.body.reserve(std::min<size_t>(*length, 64 << 20));
  remaining_ = *length;
  phase_ = Phase::kFixedBody;
  return ParseStatus::kIncomplete;
}

ParseStatus ResponseParser::onChunkSize(std::string_view line) {
  const std::string_view digits = trim(line.substr(0, line.find(';')));
  if (digits.empty() || digits.size() > 15) return fail("malformed chunk size");
  size_t size = 0;
  for (char c : digits) {
    const int v = hexValue(c);
    if (v < 0) return fail("malformed chunk size");
    size = size * 16 + static_cast<size_t>(v);
  }
  if (size == 0) {
    phase_ = Phase::kTrailers;
  } else {
    remaining_ = size;
    phase_ = Phase::kChunkData;
  }
  return ParseStatus::kIncomplete;
}

}  // namespace tidemark::detail
