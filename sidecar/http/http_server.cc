#include "sidecar/http/http_server.h"

#include <chrono>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cctype>
#include <cstring>

#include "sidecar/base/log.h"

namespace tidemark::http {
namespace {

const char* methodName(evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET:
      return "GET";
    case EVHTTP_REQ_POST:
      return "POST";
    case EVHTTP_REQ_PUT:
      return "PUT";
    case EVHTTP_REQ_DELETE:
      return "DELETE";
    case EVHTTP_REQ_HEAD:
      return "HEAD";
    case EVHTTP_REQ_OPTIONS:
      return "OPTIONS";
    case EVHTTP_REQ_PATCH:
      return "PATCH";
    default:
      return "OTHER";
  }
}

uint16_t boundPort(evhttp_bound_socket* handle) {
  evutil_socket_t fd = evhttp_bound_socket_get_fd(handle);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

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

// One outstanding evhttp request: dropped if its connection closes first.
struct Pending {
  evhttp_request* req;
  bool answered = false;
  bool gone = false;
  // Heap-held watch given to the connection's close callback; deleted by
  // whichever comes first: the reply (which removes the callback) or the close.
  std::weak_ptr<Pending>* watch = nullptr;
};

void send(const std::shared_ptr<Pending>& p, const Response& response) {
  if (p->answered || p->gone) return;
  p->answered = true;
  evkeyvalq* headers = evhttp_request_get_output_headers(p->req);
  if (!response.body.empty() || response.status != 204) {
    evhttp_add_header(headers, "Content-Type", response.content_type.c_str());
  }
  for (const auto& [name, value] : response.headers) {
    evhttp_add_header(headers, name.c_str(), value.c_str());
  }
  evbuffer* out = evbuffer_new();
  evbuffer_add(out, response.body.data(), response.body.size());
  evhttp_send_reply(p->req, response.status, nullptr, out);
  evbuffer_free(out);
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
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out.append(buf);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
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
  if (http_ != nullptr) evhttp_free(http_);
}

void HttpServer::route(std::string method, std::string pattern, Handler handler) {
  Route r{std::move(method), pattern, split(pattern), std::move(handler)};
  routes_.push_back(std::move(r));
}

void HttpServer::route(std::string method, std::string pattern, SyncHandler handler) {
  route(std::move(method), std::move(pattern),
        Handler([h = std::move(handler)](const Request& req, Reply reply) { reply(h(req)); }));
}

std::vector<std::pair<std::string, std::string>> HttpServer::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Route& r : routes_) out.emplace_back(r.method, r.pattern);
  return out;
}

Status HttpServer::start(const config::HostPort& address, size_t max_body_bytes) {
  http_ = evhttp_new(loop_.base());
  if (http_ == nullptr) return internalError("libevent: evhttp_new failed");
  evhttp_set_max_body_size(http_, static_cast<ev_ssize_t>(max_body_bytes));
  evhttp_set_max_headers_size(http_, 64 * 1024);
  evhttp_set_timeout(http_, 60);
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                        EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
  evhttp_set_gencb(http_, &HttpServer::onRequest, this);
  evhttp_bound_socket* handle =
      evhttp_bind_socket_with_handle(http_, address.host.c_str(), address.port);
  if (handle == nullptr) {
    return unavailable("http: cannot listen on " + address.toString() + ": " +
                       std::strerror(errno));
  }
  bound_ = address;
  bound_.port = boundPort(handle);
  TM_LOG(Info, "http", "listening").kv("addr", bound_.toString());
  return Status::ok();
}

// The registry's children are looked up once per (route, method, status):
// the request path only increments them.
void HttpServer::record(const std::string& route, const std::string& method, int status,
                        double seconds) {
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

void HttpServer::onRequest(evhttp_request* req, void* self) {
  static_cast<HttpServer*>(self)->handle(req);
}

bool HttpServer::match(const Route& route, const std::string& path,
                       std::map<std::string, std::string>& params, bool& bad) {
  const std::vector<std::string> parts = split(path);
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

void HttpServer::handle(evhttp_request* req) {
  auto pending = std::make_shared<Pending>(Pending{req});
  // If the client goes away before a deferred answer, evhttp frees the request;
  // the close callback marks it gone. It holds only a weak reference, so it is
  // safe whether the Reply was called, dropped, or is still waiting.
  evhttp_connection* conn = evhttp_request_get_connection(req);
  pending->watch = new std::weak_ptr<Pending>(pending);
  evhttp_connection_set_closecb(
      conn,
      [](evhttp_connection*, void* arg) {
        auto* watch = static_cast<std::weak_ptr<Pending>*>(arg);
        if (auto p = watch->lock()) {
          p->gone = true;
          p->watch = nullptr;
        }
        delete watch;
      },
      pending->watch);
  Request request;
  request.method = methodName(evhttp_request_get_command(req));
  auto route_label = std::make_shared<std::string>("unmatched");
  Reply reply = [this, pending, conn, route_label, method = request.method,
                 started = std::chrono::steady_clock::now()](Response r) {
    if (!pending->gone && pending->watch != nullptr) {
      evhttp_connection_set_closecb(conn, nullptr, nullptr);
      delete pending->watch;
      pending->watch = nullptr;
    }
    send(pending, r);
    if (metrics_ != nullptr) {
      record(*route_label, method, r.status,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
  };

  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* raw_path = uri ? evhttp_uri_get_path(uri) : nullptr;
  const char* raw_query = uri ? evhttp_uri_get_query(uri) : nullptr;
  request.path = raw_path && *raw_path ? raw_path : "/";
  if (raw_query != nullptr) {
    std::string_view q(raw_query);
    while (!q.empty()) {
      size_t amp = q.find('&');
      std::string_view pair = q.substr(0, amp);
      size_t eq = pair.find('=');
      auto k = percentDecode(pair.substr(0, eq), true);
      auto v = percentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
      if (!k || !v) {
        return reply(Response::error(400, "bad_request", "malformed query string"));
      }
      request.query[*k] = *v;
      if (amp == std::string_view::npos) break;
      q.remove_prefix(amp + 1);
    }
  }
  for (evkeyval* h = evhttp_request_get_input_headers(req)->tqh_first; h; h = h->next.tqe_next) {
    std::string name = h->key;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers[name] = h->value;
  }
  evbuffer* in = evhttp_request_get_input_buffer(req);
  request.body.resize(evbuffer_get_length(in));
  evbuffer_copyout(in, request.body.data(), request.body.size());

  bool path_known = false;
  for (const Route& route : routes_) {
    std::map<std::string, std::string> params;
    bool bad = false;
    if (!match(route, request.path, params, bad)) {
      if (bad) return reply(Response::error(400, "bad_request", "malformed percent-encoding"));
      continue;
    }
    path_known = true;
    *route_label = route.pattern;
    if (route.method != request.method) continue;
    request.params = std::move(params);
    return route.handler(request, std::move(reply));
  }
  reply(path_known ? Response::error(405, "method_not_allowed",
                                     request.method + " is not allowed on " + request.path)
                   : Response::error(404, "not_found", "no route " + request.path));
}

}  // namespace tidemark::http
