#include "tidemark/client.h"

#include <mutex>
#include <nlohmann/json.hpp>

#include "api_error.h"
#include "encoding.h"
#include "http_connection.h"
#include "token_source.h"

namespace tidemark {

using detail::HttpRequest;
using detail::HttpResponse;
using json = nlohmann::json;
using Query = std::vector<std::pair<std::string, std::string>>;

namespace {

detail::BaseUrl baseUrlOf(const ClientOptions& o) {
  std::string why;
  auto url = detail::parseBaseUrl(o.base_url, why);
  if (!url) throw std::invalid_argument(why + ": " + o.base_url);
  return *url;
}

detail::TokenSource tokenOf(const ClientOptions& o) {
  if (o.token && o.token_file) throw std::invalid_argument("give token or token_file, not both");
  if (o.token_file) {
    std::string why;
    auto source = detail::TokenSource::fromFile(*o.token_file, why);
    if (!source) throw std::invalid_argument(why);
    return std::move(*source);
  }
  if (o.token) return detail::TokenSource::fixed(*o.token);
  return {};
}

// A caller's string going into a header must not end the header early.
const std::string& headerValue(const char* name, const std::string& value) {
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    throw std::invalid_argument(std::string(name) + " must not contain CR, LF or NUL");
  }
  return value;
}

// JSON text of a request document; std::invalid_argument when a string in it
// (a group, topic, key) is not valid UTF-8, which JSON cannot carry.
std::string dump(const json& doc) {
  try {
    return doc.dump();
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("cannot encode the request as JSON: ") + e.what());
  }
}

json offsetsJson(const std::vector<Offset>& offsets) {
  json list = json::array();
  for (const Offset& o : offsets) {
    json e = {
        {"group", o.group}, {"topic", o.topic}, {"partition", o.partition}, {"offset", o.offset}};
    if (o.leader_epoch != -1) e["leader_epoch"] = o.leader_epoch;
    if (o.metadata) e["metadata"] = *o.metadata;
    list.push_back(std::move(e));
  }
  return list;
}

const char* viewName(View view) { return view == View::kStaged ? "staged" : "sealed"; }

SealResult sealResultOf(const json& j) {
  return {j.at("seal").get<std::uint64_t>(), j.at("partitions").get<std::uint64_t>()};
}

std::string checkpointIdOf(const json& j) { return j.at("id").get<std::string>(); }

CheckpointSummary summaryOf(const json& j) {
  CheckpointSummary s;
  s.id = j.at("id").get<std::string>();
  s.created_at_ms = j.at("created_at_ms").get<std::int64_t>();
  s.trigger = j.at("trigger").get<std::string>();
  s.partitions = j.at("partitions").get<std::uint64_t>();
  s.state_keys = j.at("state_keys").get<std::uint64_t>();
  s.state_bytes = j.at("state_bytes").get<std::uint64_t>();
  return s;
}

CheckpointDetail detailOf(const json& j) {
  CheckpointDetail d;
  static_cast<CheckpointSummary&>(d) = summaryOf(j);
  d.job_id = j.at("job_id").get<std::string>();
  for (const json& o : j.at("offsets")) {
    Offset off;
    off.group = o.at("group").get<std::string>();
    off.topic = o.at("topic").get<std::string>();
    off.partition = o.at("partition").get<std::int32_t>();
    off.offset = o.at("offset").get<std::int64_t>();
    off.leader_epoch = o.value("leader_epoch", -1);
    if (o.contains("metadata") && !o["metadata"].is_null()) {
      off.metadata = o["metadata"].get<std::string>();
    }
    d.offsets.push_back(std::move(off));
  }
  for (const json& s : j.at("state")) {
    CheckpointStateEntry e;
    e.key = s.at("key").get<std::string>();
    e.size = s.at("size").get<std::uint64_t>();
    e.sha256 = s.at("sha256").get<std::string>();
    e.content_type = s.at("content_type").get<std::string>();
    if (s.contains("partition") && !s["partition"].is_null()) {
      const json& p = s["partition"];
      e.partition = PartitionId{p.at("group").get<std::string>(), p.at("topic").get<std::string>(),
                                p.at("partition").get<std::int32_t>()};
    }
    d.state.push_back(std::move(e));
  }
  return d;
}

}  // namespace

class Client::Impl {
 public:
  explicit Impl(const ClientOptions& o)
      : url_(baseUrlOf(o)), token_(tokenOf(o)), connection_(url_), timeout_(o.timeout) {
    if (timeout_.count() <= 0) throw std::invalid_argument("timeout must be positive");
  }

  // Sends one request; returns a 2xx answer (or a 404 not_found one when
  // `absent_ok`), throws the typed Error for any other status.
  HttpResponse call(std::string method, const std::string& path, const Query& query = {},
                    std::string_view body = {}, Query headers = {}, bool absent_ok = false,
                    std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
    HttpRequest request;
    request.method = std::move(method);
    request.target = url_.prefix + path + detail::encodeQuery(query);
    request.body = body;
    request.send_length = request.method == "PUT" || request.method == "POST";
    request.headers = std::move(headers);
    detail::Exchange answer;
    {
      std::lock_guard<std::mutex> hold(mutex_);
      if (auto token = token_.current()) {
        request.headers.emplace_back("Authorization", "Bearer " + *token);
      }
      answer = connection_.exchange(request, timeout.value_or(timeout_));
    }
    if (!answer.response) throw TransportError(answer.failure);
    HttpResponse& r = *answer.response;
    if (r.status >= 200 && r.status <= 299) return std::move(r);
    detail::ApiError error = detail::parseApiError(r.status, r.body);
    if (absent_ok && r.status == 404 && error.code == "not_found") return std::move(r);
    detail::throwApiError(std::move(error));
  }

  // call() for a JSON answer, read by `read`; an answer that is not the JSON
  // expected is a TransportError (a sidecar of another API version, a proxy).
  template <typename Read>
  auto callJson(const std::string& method, const std::string& path, const Query& query,
                std::string_view body, Read read,
                std::optional<std::chrono::milliseconds> timeout = std::nullopt) {
    Query headers;
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    HttpResponse r = call(method, path, query, body, std::move(headers), false, timeout);
    try {
      return read(json::parse(r.body));
    } catch (const json::exception& e) {
      throw TransportError(method + " " + path + ": " + std::to_string(r.status) +
                           " answer is not the JSON expected (" + e.what() +
                           "): " + r.body.substr(0, 200));
    }
  }

  void close() {
    std::lock_guard<std::mutex> hold(mutex_);
    connection_.close();
  }

 private:
  detail::BaseUrl url_;
  std::mutex mutex_;  // one exchange at a time on the one connection
  detail::TokenSource token_;
  detail::HttpConnection connection_;
  std::chrono::milliseconds timeout_;
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(options)) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

std::string Client::putStateAt(const std::string& base, std::string_view key,
                               std::string_view value, const PutOptions& options) {
  Query headers;
  if (options.content_type) {
    headers.emplace_back("Content-Type", headerValue("content_type", *options.content_type));
  }
  if (options.if_match) {
    headers.emplace_back("If-Match", headerValue("if_match", *options.if_match));
  }
  HttpResponse r = impl_->call("PUT", base + "/" + detail::encodeKey(key), {}, value, headers);
  return r.header("etag").value_or("");
}

std::optional<State> Client::getStateAt(const std::string& base, std::string_view key, View view) {
  Query query;
  if (view != View::kSealed) query.emplace_back("view", viewName(view));
  HttpResponse r = impl_->call("GET", base + "/" + detail::encodeKey(key), query, {}, {},
                               /*absent_ok=*/true);
  if (r.status == 404) return std::nullopt;
  return State{std::move(r.body), r.header("content-type").value_or(""),
               r.header("etag").value_or("")};
}

void Client::deleteStateAt(const std::string& base, std::string_view key,
                           const std::optional<std::string>& if_match) {
  Query headers;
  if (if_match) headers.emplace_back("If-Match", headerValue("if_match", *if_match));
  impl_->call("DELETE", base + "/" + detail::encodeKey(key), {}, {}, headers);
}

std::vector<StateInfo> Client::listStateAt(const std::string& base, std::string_view prefix,
                                           View view) {
  Query query;
  if (!prefix.empty()) query.emplace_back("prefix", std::string(prefix));
  if (view != View::kSealed) query.emplace_back("view", viewName(view));
  return impl_->callJson("GET", base, query, {}, [](const json& j) {
    std::vector<StateInfo> out;
    for (const json& k : j.at("keys")) {
      out.push_back({k.at("key").get<std::string>(), k.at("size").get<std::uint64_t>(),
                     k.at("etag").get<std::string>()});
    }
    return out;
  });
}

namespace {
const std::string kInstanceState = "/v1/state";
}  // namespace

std::string Client::putState(std::string_view key, std::string_view value,
                             const PutOptions& options) {
  return putStateAt(kInstanceState, key, value, options);
}

std::optional<State> Client::getState(std::string_view key, View view) {
  return getStateAt(kInstanceState, key, view);
}

void Client::deleteState(std::string_view key, const std::optional<std::string>& if_match) {
  deleteStateAt(kInstanceState, key, if_match);
}

std::vector<StateInfo> Client::listState(std::string_view prefix, View view) {
  return listStateAt(kInstanceState, prefix, view);
}

PartitionState Client::partition(std::string group, std::string topic, std::int32_t partition) {
  // Group and topic are one percent-encoded segment each ('/' included); the
  // sidecar decides what is valid (400 invalid_partition).
  std::string base = "/v1/groups/" + detail::percentEncode(group) + "/topics/" +
                     detail::percentEncode(topic) + "/partitions/" + std::to_string(partition) +
                     "/state";
  return PartitionState(*this, PartitionId{std::move(group), std::move(topic), partition},
                        std::move(base));
}

SealResult Client::markOffsets(const std::vector<Offset>& offsets) {
  const std::string body = dump(offsetsJson(offsets));
  return impl_->callJson("POST", "/v1/offsets", {}, body, sealResultOf);
}

SealResult Client::commit(const std::vector<Offset>& offsets,
                          const std::map<std::string, std::string>& put,
                          const std::vector<std::string>& del) {
  json puts = json::object();
  for (const auto& [key, value] : put) puts[key] = detail::base64Encode(value);
  const std::string body =
      dump({{"offsets", offsetsJson(offsets)}, {"state", {{"put", puts}, {"delete", del}}}});
  return impl_->callJson("POST", "/v1/commit", {}, body, sealResultOf);
}

std::string Client::checkpoint() {
  return impl_->callJson("POST", "/v1/checkpoints", {}, {}, checkpointIdOf);
}

std::string Client::checkpoint(std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) throw std::invalid_argument("timeout must be positive");
  return impl_->callJson("POST", "/v1/checkpoints", {}, {}, checkpointIdOf, timeout);
}

std::vector<CheckpointSummary> Client::checkpoints() {
  return impl_->callJson("GET", "/v1/checkpoints", {}, {}, [](const json& j) {
    std::vector<CheckpointSummary> out;
    for (const json& c : j.at("checkpoints")) out.push_back(summaryOf(c));
    return out;
  });
}

CheckpointDetail Client::getCheckpoint(std::string_view id) {
  return impl_->callJson("GET", "/v1/checkpoints/" + detail::percentEncode(id), {}, {}, detailOf);
}

void Client::close() { impl_->close(); }

}  // namespace tidemark
