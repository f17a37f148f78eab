#include "sidecar/http/http_server.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include <unistd.h>

#include "sidecar/base/log.h"
#include "sidecar/http/http_connection.h"
#include "sidecar/http/token_file.h"

namespace tidemark::http {
namespace {

const std::string kOther = "OTHER";

// Connections with nothing in flight and no bytes for this long are closed.
constexpr std::chrono::seconds kIdleTimeout{60};
constexpr std::chrono::milliseconds kSweepEvery{5000};
constexpr size_t kMaxConnections = 4096;

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;  // paths begin with '/'
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> percentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hexValue(in[i + 1]);
      int lo = hexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      char decoded = static_cast<char>(hi * 16 + lo);
      if (decoded == '\0') return std::nullopt;
      out.push_back(decoded);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string jsonEscape(std::string_view s) {
  // nlohmann's encoder; bytes that are not UTF-8 (request bytes quoted back
  // in a message) become U+FFFD, so the answer is always valid JSON.
  const std::string quoted =
      nlohmann::json(std::string(s))
          .dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::empty(int status) {
  Response r;
  r.status = status;
  return r;
}

Response Response::error(int status, std::string_view code, std::string_view message) {
  return json(status, "{\"error\":{\"code\":\"" + jsonEscape(code) + "\",\"message\":\"" +
                          jsonEscape(message) + "\"}}");
}

HttpServer::HttpServer(event::EventLoop& loop) : loop_(loop) {}

HttpServer::~HttpServer() {
  listener_.reset();
  for (auto& [id, conn] : connections_) conn->close();
}

void HttpServer::route(std::string method, std::string pattern, Handler handler,
                       size_t max_body_bytes) {
  Route r{std::move(method), pattern, split(pattern), std::move(handler), max_body_bytes};
  routes_.push_back(std::move(r));
}

void HttpServer::route(std::string method, std::string pattern, SyncHandler handler,
                       size_t max_body_bytes) {
  route(std::move(method), std::move(pattern),
        Handler([h = std::move(handler)](const Request& req, Reply reply) { reply(h(req)); }),
        max_body_bytes);
}

std::vector<std::pair<std::string, std::string>> HttpServer::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Route& r : routes_) out.emplace_back(r.method, r.pattern);
  return out;
}

size_t HttpServer::inFlight() const {
  size_t n = 0;
  for (const auto& [id, conn] : connections_) n += conn->inFlight();
  return n;
}

Status HttpServer::start(const config::HostPort& address, size_t default_max_body_bytes) {
  default_max_body_ = default_max_body_bytes;
  auto listener = event::TcpListener::listen(
      loop_, address, [this](int fd, std::string peer) { accept(fd, std::move(peer)); });
  if (!listener.isOk()) {
    return unavailable("http: cannot listen on " + address.toString() + ": " +
                       listener.status().message());
  }
  listener_ = std::move(*listener);
  bound_ = listener_->address();
  // Often enough that a request times out within a quarter of its timeout.
  const auto every = std::clamp<std::chrono::milliseconds>(
      request_timeout_ / 4, std::chrono::milliseconds(25), kSweepEvery);
  idle_sweep_ = loop_.createTimer([this, every] {
    sweep();
    idle_sweep_->arm(every);
  });
  idle_sweep_->arm(every);
  // One line per route: what tests/integration/test_openapi.py compares
  // with docs/api/openapi.yaml.
  for (const Route& r : routes_) {
    TM_LOG(Debug, "http", "route").kv("method", r.method).kv("pattern", r.pattern);
  }
  TM_LOG(Info, "http", "listening").kv("addr", bound_.toString());
  return Status::ok();
}

void HttpServer::accept(int fd, std::string peer) {
  if (connections_.size() >= kMaxConnections) {
    TM_LOG(Warn, "http", "connection refused: too many open").kv("peer", peer);
    ::close(fd);
    return;
  }
  const uint64_t id = next_connection_id_++;
  auto conn = std::make_shared<Connection>(*this);
  std::weak_ptr<Connection> weak = conn;
  event::TcpStream::Callbacks callbacks;
  callbacks.on_data = [weak] {
    if (auto c = weak.lock()) c->onData();
  };
  // The stream must not be destroyed inside its own callback: drop it later.
  callbacks.on_closed = [this, id, alive = std::weak_ptr<bool>(alive_)](std::string) {
    loop_.post([this, id, alive] {
      if (!alive.expired()) connections_.erase(id);
    });
  };
  conn->attach(event::TcpStream::adopt(loop_, fd, std::move(peer), std::move(callbacks)));
  connections_.emplace(id, std::move(conn));
}

void HttpServer::sweep() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->second->idleSince(now - kIdleTimeout)) {
      it->second->close();
      it = connections_.erase(it);
      continue;
    }
    // Its close is posted (on_closed), so the iteration stays valid.
    if (it->second->arrivingSince(now - request_timeout_)) it->second->timeOut(request_timeout_);
    ++it;
  }
}

// The registry's children are looked up once per (route, method, status):
// the request path only increments them. A method the API does not use is
// counted as OTHER: a client sending made-up methods must not grow the
// metrics (and this map) without bound.
void HttpServer::record(const std::string& route, const std::string& method_seen, int status,
                        double seconds) {
  static const std::set<std::string, std::less<>> kKnown = {"GET",    "HEAD",  "PUT",    "POST",
                                                            "DELETE", "PATCH", "OPTIONS"};
  const std::string& method = kKnown.count(method_seen) ? method_seen : kOther;
  auto& count = request_counts_[{route, method, status}];
  if (count == nullptr) {
    count = &metrics_->counter(
        "tidemark_http_requests_total", "HTTP API requests by route, method and status.",
        {{"route", route}, {"method", method}, {"code", std::to_string(status)}});
  }
  count->inc();
  auto& duration = request_durations_[route];
  if (duration == nullptr) {
    duration = &metrics_->histogram("tidemark_http_request_duration_seconds",
                                    "HTTP API request duration, until the answer was queued.",
                                    metrics::exponentialBounds(0.00005, 2, 16), {{"route", route}});
  }
  duration->observe(seconds);
}

bool HttpServer::match(const Route& route, const std::vector<std::string>& parts,
                       std::map<std::string, std::string>& params, bool& bad) {
  const auto& segs = route.segments;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string& seg = segs[i];
    const bool is_param = seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
    if (is_param && seg.size() > 5 && seg.compare(seg.size() - 4, 4, "...}") == 0) {
      if (i >= parts.size()) return false;
      std::string rest;
      for (size_t j = i; j < parts.size(); ++j) rest += (j > i ? "/" : "") + parts[j];
      auto decoded = percentDecode(rest, false);
      if (!decoded) return bad = true, false;
      params[seg.substr(1, seg.size() - 5)] = *decoded;
      return true;
    }
    if (i >= parts.size()) return false;
    if (is_param) {
      auto decoded = percentDecode(parts[i], false);
      if (!decoded) return bad = true, false;
      params[seg.substr(1, seg.size() - 2)] = *decoded;
    } else if (seg != parts[i]) {
      return false;
    }
  }
  return segs.size() == parts.size();
}

HttpServer::Resolved HttpServer::resolve(const std::string& method, const std::string& path,
                                         const std::string& authorization) const {
  Resolved out;
  const bool read = method == "GET" || method == "HEAD";
  // Exactly these two paths: no prefix, no normalisation, no query tricks
  // (the query is not part of `path`).
  const bool exempt = read && (path == "/healthz" || path == "/readyz");
  if (token_ != nullptr && !exempt && !token_->accepts(authorization)) {
    Response r = Response::error(
        401, "unauthenticated",
        authorization.empty() ? "this API needs a bearer token" : "the bearer token is not valid");
    r.headers["WWW-Authenticate"] = "Bearer";
    out.error = std::move(r);
    return out;
  }
  const std::string_view want = method == "HEAD" ? std::string_view("GET") : method;
  const std::vector<std::string> parts = split(path);
  bool path_known = false;
  for (const Route& route : routes_) {
    std::map<std::string, std::string> params;
    bool bad = false;
    if (!match(route, parts, params, bad)) {
      if (bad) {
        out.error = Response::error(400, "bad_request", "malformed percent-encoding");
        return out;
      }
      continue;
    }
    path_known = true;
    out.label = route.pattern;
    if (route.method != want) continue;
    out.route = &route;
    out.params = std::move(params);
    return out;
  }
  out.error =
      path_known ? Response::error(405, "method_not_allowed", method + " is not allowed on " + path)
                 : Response::error(404, "not_found", "no route " + path);
  return out;
}

}  // namespace tidemark::http
