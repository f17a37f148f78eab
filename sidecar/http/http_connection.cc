#include "sidecar/http/http_connection.h"

#include "sidecar/base/log.h"

namespace tidemark::http {
namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;
// Answers queued on one connection before it stops reading (pipelining).
constexpr size_t kMaxPipelined = 64;
// A refused body up to this size is read and dropped, so the connection (and
// the answer, which an early close could reset) survives; beyond, it closes.
constexpr uint64_t kMaxDiscardBytes = 16 << 20;

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

// The error code of a framing failure's answer.
const char* errorCode(int status) {
  switch (status) {
    case 413:
      return "payload_too_large";
    case 431:
      return "header_too_large";
    case 501:
      return "not_implemented";
    case 505:
      return "http_version_not_supported";
    default:
      return "bad_request";
  }
}

std::string serialize(const Response& r, bool head_only, bool close, int minor_version) {
  std::string out;
  out.reserve(128 + r.body.size());
  out.append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ").append(reason(r.status));
  out.append("\r\n");
  const bool no_body = r.status == 204 || r.status == 304;
  if (!no_body) {
    out.append("Content-Type: ").append(r.content_type).append("\r\n");
    out.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
  }
  for (const auto& [name, value] : r.headers) {
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (close) {
    out.append("Connection: close\r\n");
  } else if (minor_version == 0) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (!no_body && !head_only) out.append(r.body);
  return out;
}

}  // namespace

void HttpServer::Connection::onData() {
  last_active_ = std::chrono::steady_clock::now();
  stream_->takeAllInto(in_);
  if (processing_) return;  // the running loop below sees the new bytes
  processing_ = true;
  auto self = shared_from_this();  // a handler may end the server's hold on us
  while (step()) {
  }
  processing_ = false;
  if (pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  } else if (pos_ > 64 * 1024) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
  // The request timeout runs while a request is partly here and the
  // connection is reading: not while it waits on our answers (paused).
  const bool arriving =
      !paused_ && (phase_ == Phase::kBody || phase_ == Phase::kChunked ||
                   phase_ == Phase::kDiscard || (phase_ == Phase::kHead && pos_ < in_.size()));
  if (!arriving) {
    arriving_since_.reset();
  } else if (!arriving_since_) {
    arriving_since_ = last_active_;
  }
}

void HttpServer::Connection::timeOut(std::chrono::milliseconds timeout) {
  const bool head_read = phase_ != Phase::kHead;
  arriving_since_.reset();
  phase_ = Phase::kDone;
  stream_->pauseReading();
  const uint64_t seq = openSlot(/*close=*/true);
  if (server_.metrics_ != nullptr) {
    server_.record(head_read ? resolved_.label : "unmatched", head_read ? head_.method : "OTHER",
                   408, 0.0);
  }
  TM_LOG(Info, "http", "request timed out: closing the connection")
      .kv("peer", stream_->peer())
      .kv("stage", head_read ? "body" : "head")
      .kv("timeout_ms", timeout.count());
  complete(seq,
           Response::error(408, "request_timeout",
                           std::string("the request did not arrive whole within ") +
                               std::to_string(timeout.count()) + " ms of its first byte"),
           false);
}

bool HttpServer::Connection::step() {
  if (stream_->closed() || phase_ == Phase::kDone) return false;
  if (slots_.size() >= kMaxPipelined) {
    stream_->pauseReading();
    paused_ = true;
    return false;
  }
  std::string_view avail(in_.data() + pos_, in_.size() - pos_);
  switch (phase_) {
    case Phase::kHead: {
      size_t consumed = 0;
      ParseError error;
      Parse r = parseHead(avail, kMaxHeadBytes, head_, consumed, error);
      if (r == Parse::kIncomplete) return false;
      if (r == Parse::kError) {
        const uint64_t seq = openSlot(/*close=*/true);
        phase_ = Phase::kDone;
        if (server_.metrics_ != nullptr) server_.record("unmatched", "OTHER", error.status, 0.0);
        complete(seq, Response::error(error.status, errorCode(error.status), error.message), false);
        return false;
      }
      pos_ += consumed;
      begin();
      return true;
    }
    case Phase::kBody: {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(body_remaining_, avail.size()));
      body_.append(avail.substr(0, n));
      pos_ += n;
      body_remaining_ -= n;
      if (body_remaining_ > 0) return false;
      dispatch();
      return true;
    }
    case Phase::kChunked: {
      size_t consumed = 0;
      ParseError error;
      Parse r = chunked_->feed(avail, consumed, body_, error);
      pos_ += consumed;
      if (r == Parse::kIncomplete) return false;
      if (r == Parse::kError) {
        head_.keep_alive = false;
        refuse(Response::error(error.status, errorCode(error.status), error.message));
        return true;
      }
      dispatch();
      return true;
    }
    case Phase::kDiscard: {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(discard_remaining_, avail.size()));
      pos_ += n;
      discard_remaining_ -= n;
      if (discard_remaining_ > 0) return false;
      phase_ = head_.keep_alive ? Phase::kHead : Phase::kDone;
      return true;
    }
    case Phase::kDone:
      return false;
  }
  return false;
}

// A head is complete: decide before reading the body whether it will be read.
void HttpServer::Connection::begin() {
  resolved_ = server_.resolve(head_.method, head_.path, [&] {
    auto it = head_.headers.find("authorization");
    return it == head_.headers.end() ? std::string() : it->second;
  }());
  body_.clear();
  if (resolved_.error) return refuse(std::move(*resolved_.error));
  const size_t limit = resolved_.route->max_body_bytes != 0 ? resolved_.route->max_body_bytes
                                                            : server_.default_max_body_;
  const uint64_t length = head_.content_length.value_or(0);
  if (length > limit) {
    return refuse(Response::error(413, "payload_too_large",
                                  "request body of " + std::to_string(length) +
                                      " bytes is larger than this route's limit of " +
                                      std::to_string(limit) + " bytes"));
  }
  const bool has_body = head_.chunked || length > 0;
  // Only when no earlier answer is still owed: an interim answer must not
  // overtake them.
  if (has_body && head_.expect_continue && head_.minor_version == 1 && slots_.empty()) {
    stream_->write("HTTP/1.1 100 Continue\r\n\r\n");
  }
  if (head_.chunked) {
    chunked_.emplace(limit);
    phase_ = Phase::kChunked;
  } else if (length > 0) {
    body_.reserve(length);
    body_remaining_ = length;
    phase_ = Phase::kBody;
  } else {
    dispatch();
  }
}

void HttpServer::Connection::refuse(Response response) {
  arriving_since_.reset();  // answered: a body still to skip starts its own clock
  const uint64_t length = head_.content_length.value_or(0);
  // With "Expect: 100-continue" the client waits for us: nothing to skip.
  const bool body_follows = head_.chunked || (length > 0 && !head_.expect_continue);
  if (head_.chunked || length > kMaxDiscardBytes) head_.keep_alive = false;
  const uint64_t seq = openSlot(!head_.keep_alive);
  if (server_.metrics_ != nullptr) {
    server_.record(resolved_.label, head_.method, response.status, 0.0);
  }
  complete(seq, response, head_.method == "HEAD");
  if (!head_.keep_alive) {
    phase_ = Phase::kDone;
  } else if (body_follows) {
    discard_remaining_ = length;
    phase_ = Phase::kDiscard;
  } else {
    phase_ = Phase::kHead;
  }
}

void HttpServer::Connection::dispatch() {
  arriving_since_.reset();
  Request request;
  request.method = head_.method == "HEAD" ? "GET" : head_.method;
  request.path = std::move(head_.path);
  request.params = std::move(resolved_.params);
  request.headers = std::move(head_.headers);
  request.body = std::move(body_);
  body_ = std::string();
  const bool head_only = head_.method == "HEAD";
  const bool keep_alive = head_.keep_alive;
  phase_ = keep_alive ? Phase::kHead : Phase::kDone;
  const uint64_t seq = openSlot(!keep_alive);

  std::string_view q = head_.query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    size_t eq = pair.find('=');
    auto k = percentDecode(pair.substr(0, eq), true);
    auto v = percentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!k || !v) {
      return complete(seq, Response::error(400, "bad_request", "malformed query string"),
                      head_only);
    }
    request.query[*k] = *v;
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }

  std::weak_ptr<Connection> weak = weak_from_this();
  HttpServer* server = &server_;
  std::weak_ptr<bool> server_alive = server_.alive_;
  Reply reply = [weak, seq, head_only, server, server_alive, label = resolved_.label,
                 method = request.method, started = std::chrono::steady_clock::now()](Response r) {
    if (server_alive.expired()) return;
    if (server->metrics_ != nullptr) {
      server->record(
          label, method, r.status,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    if (auto conn = weak.lock()) conn->complete(seq, r, head_only);
  };
  resolved_.route->handler(request, std::move(reply));
}

uint64_t HttpServer::Connection::openSlot(bool close) {
  slots_.push_back(Slot{false, {}, close, head_.minor_version});
  return next_seq_++;
}

void HttpServer::Connection::complete(uint64_t seq, const Response& response, bool head_only) {
  if (seq < first_seq_ || seq - first_seq_ >= slots_.size()) return;  // answered already
  Slot& slot = slots_[seq - first_seq_];
  if (slot.ready) return;
  slot.ready = true;
  slot.bytes = serialize(response, head_only, slot.close, slot.minor_version);
  flush();
}

void HttpServer::Connection::flush() {
  while (!slots_.empty() && slots_.front().ready) {
    Slot& front = slots_.front();
    stream_->write(front.bytes);
    const bool close = front.close;
    slots_.pop_front();
    ++first_seq_;
    if (close) {
      slots_.clear();
      stream_->closeAfterFlush();
      return;
    }
  }
  if (paused_ && slots_.size() < kMaxPipelined) {
    paused_ = false;
    stream_->resumeReading();
    if (!processing_ && pos_ < in_.size()) {
      // Requests already buffered wait for no new input.
      server_.loop_.post([weak = weak_from_this()] {
        if (auto conn = weak.lock()) conn->onData();
      });
    }
  }
}

}  // namespace tidemark::http
