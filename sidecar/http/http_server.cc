#include "sidecar/http/http_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <sys/socket.h>

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

uint16_t boundPort(evhttp_bound_socket* handle) {
  evutil_socket_t fd = evhttp_bound_socket_get_fd(handle);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
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

void HttpServer::route(std::string method, std::string path, Handler handler) {
  routes_[{std::move(method), std::move(path)}] = std::move(handler);
}

Status HttpServer::start(const config::HostPort& address, size_t max_body_bytes) {
  http_ = evhttp_new(loop_.base());
  if (http_ == nullptr) return internalError("libevent: evhttp_new failed");
  evhttp_set_max_body_size(http_, static_cast<ev_ssize_t>(max_body_bytes));
  evhttp_set_max_headers_size(http_, 64 * 1024);
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

void HttpServer::onRequest(evhttp_request* req, void* self) {
  static_cast<HttpServer*>(self)->handle(req);
}

void HttpServer::handle(evhttp_request* req) {
  Request request;
  request.method = methodName(evhttp_request_get_command(req));
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* raw_path = uri ? evhttp_uri_get_path(uri) : nullptr;
  const char* raw_query = uri ? evhttp_uri_get_query(uri) : nullptr;
  request.path = raw_path ? raw_path : "/";
  request.query = raw_query ? raw_query : "";
  evbuffer* in = evhttp_request_get_input_buffer(req);
  request.body.resize(evbuffer_get_length(in));
  evbuffer_copyout(in, request.body.data(), request.body.size());

  Response response;
  auto it = routes_.find({request.method, request.path});
  if (it != routes_.end()) {
    response = it->second(request);
  } else {
    bool path_known = false;
    for (const auto& [key, handler] : routes_) path_known |= key.second == request.path;
    response = path_known ? Response::error(405, "method_not_allowed",
                                            request.method + " is not allowed on " + request.path)
                          : Response::error(404, "not_found", "no route " + request.path);
  }

  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", response.content_type.c_str());
  for (const auto& [name, value] : response.headers) {
    evhttp_add_header(headers, name.c_str(), value.c_str());
  }
  evbuffer* out = evbuffer_new();
  evbuffer_add(out, response.body.data(), response.body.size());
  evhttp_send_reply(req, response.status, nullptr, out);
  evbuffer_free(out);
}

}  // namespace tidemark::http
