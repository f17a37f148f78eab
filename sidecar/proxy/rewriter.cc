#include "sidecar/proxy/rewriter.h"

#include <algorithm>

#include "protocol/kafka/header.h"
#include "sidecar/base/log.h"
#include "sidecar/proxy/lenient.h"

namespace tidemark::proxy {
namespace {

using namespace kafka;

constexpr int16_t kProduce = 0;
constexpr int16_t kFetch = 1;
constexpr int16_t kMetadata = 3;
constexpr int16_t kFindCoordinator = 10;
constexpr int16_t kSaslHandshake = 17;
constexpr int16_t kApiVersions = 18;
constexpr int16_t kDescribeCluster = 60;
constexpr int16_t kConsumerGroupHeartbeat = 68;
constexpr int16_t kUnsupportedVersion = 35;

template <typename Endpoint>
void rewriteEndpoints(std::vector<Endpoint>& endpoints, BrokerMap& brokers) {
  for (auto& e : endpoints) {
    auto adv = brokers.learn(e.node_id, e.host, e.port);
    e.host = adv.host;
    e.port = adv.port;
  }
}

// Only the brokers carry addresses, and they come first: they are decoded and
// re-encoded, and everything after them (cluster id, controller, topics, tag
// section, trailing bytes) is copied as it came. A cluster's partition list,
// most of the body, then costs one copy instead of a decode and an encode; it
// is the client's to read, as it would be without the sidecar. From v10 topics
// carry ids, which the topic cache learns when the whole body decodes.
StatusOr<std::optional<std::string>> rewriteMetadata(int16_t v, std::string_view body,
                                                     RewriteContext& ctx) {
  const bool flexible = isFlexible(kMetadata, v);
  Reader r(body);
  const int32_t throttle_time_ms = v >= 3 ? r.readInt32() : 0;
  const int32_t count = r.readArrayLength(flexible);
  if (count < 0 && r.ok()) r.fail("brokers is null");
  std::vector<MetadataResponse::Broker> brokers;
  for (int32_t i = 0; i < count && r.ok(); ++i) {
    brokers.emplace_back().decode(r, v, flexible);
  }
  if (!r.ok()) {
    return invalidArgument("Metadata response v" + std::to_string(v) + ": " + r.error());
  }
  rewriteEndpoints(brokers, ctx.brokers);
  if (v >= 10) {
    if (auto d = decodeLenient<MetadataResponse>(body, v); d.isOk()) {
      for (const auto& t : d->msg.topics) {
        if (t.name) ctx.topics.learn(t.topic_id, *t.name);
      }
    }
  }
  std::string out;
  out.reserve(body.size() + 64);
  Writer w(out);
  if (v >= 3) w.writeInt32(throttle_time_ms);
  w.writeArrayLength(count, flexible);
  for (const auto& b : brokers) b.encode(w, v, flexible);
  if (!w.ok()) {
    return invalidArgument("Metadata response v" + std::to_string(v) + ": " + w.error());
  }
  out.append(body.substr(r.consumed()));
  return std::optional<std::string>(std::move(out));
}

StatusOr<std::optional<std::string>> rewriteFindCoordinator(int16_t v, std::string_view body,
                                                            RewriteContext& ctx) {
  TM_ASSIGN_OR_RETURN(auto d, decodeLenient<FindCoordinatorResponse>(body, v));
  auto& m = d.msg;
  // An error answer carries node -1 and no usable address; leave it alone.
  auto rewriteOne = [&](int32_t node_id, std::string& host, int32_t& port) {
    if (node_id < 0) return;
    auto adv = ctx.brokers.learn(node_id, host, port);
    host = adv.host;
    port = adv.port;
  };
  if (v <= 3) rewriteOne(m.node_id, m.host, m.port);
  for (auto& c : m.coordinators) rewriteOne(c.node_id, c.host, c.port);
  return reencode(d, v);
}

StatusOr<std::optional<std::string>> rewriteDescribeCluster(int16_t v, std::string_view body,
                                                            RewriteContext& ctx) {
  TM_ASSIGN_OR_RETURN(auto d, decodeLenient<DescribeClusterResponse>(body, v));
  auto& m = d.msg;
  const bool controllers = v >= 1 && m.endpoint_type == 2;
  for (auto& b : m.brokers) {
    if (controllers) {
      // Controller ids are not broker ids: the sidecar serves no listener for
      // them, so they are advertised undialable rather than leaked.
      b.host = ctx.brokers.advertisedHost();
      b.port = 0;
      continue;
    }
    auto adv = ctx.brokers.learn(b.broker_id, b.host, b.port);
    b.host = adv.host;
    b.port = adv.port;
  }
  return reencode(d, v);
}

template <typename M>
StatusOr<std::optional<std::string>> rewriteNodeEndpoints(int16_t v, std::string_view body,
                                                          RewriteContext& ctx) {
  TM_ASSIGN_OR_RETURN(auto d, decodeLenient<M>(body, v));
  auto& m = d.msg;
  if (m.node_endpoints.empty()) return std::optional<std::string>();  // forward as is
  rewriteEndpoints(m.node_endpoints, ctx.brokers);
  return reencode(d, v);
}

StatusOr<std::optional<std::string>> rewriteApiVersions(int16_t v, std::string_view body) {
  // UNSUPPORTED_VERSION answers (KIP-511) only tell the client which
  // ApiVersions versions to retry with; they carry no addresses, and brokers
  // encode them in ways that differ (v0, or librdkafka's mock's own mix), so
  // they pass through as the client's own library expects them. The retry's
  // answer is clamped.
  if (body.size() >= 2 && kafka::loadInt16(body.data()) == kUnsupportedVersion) {
    return std::optional<std::string>();
  }
  TM_ASSIGN_OR_RETURN(auto d, decodeLenient<ApiVersionsResponse>(body, v));
  auto& m = d.msg;
  clampApiVersions(m);
  return reencode(d, v);
}

}  // namespace

bool isHiddenApi(int16_t key) { return key == kConsumerGroupHeartbeat; }

bool mustInspectResponse(int16_t key, int16_t version) {
  switch (key) {
    case kMetadata:
    case kFindCoordinator:
    case kDescribeCluster:
    case kApiVersions:
      return true;
    case kFetch:
      return version >= 16;  // KIP-951 NodeEndpoints
    case kProduce:
      return version >= 10;  // KIP-951 NodeEndpoints
    default:
      return false;
  }
}

StatusOr<std::optional<std::string>> rewriteResponse(int16_t key, int16_t version,
                                                     std::string_view body, RewriteContext& ctx) {
  switch (key) {
    case kMetadata:
      return rewriteMetadata(version, body, ctx);
    case kFindCoordinator:
      return rewriteFindCoordinator(version, body, ctx);
    case kDescribeCluster:
      return rewriteDescribeCluster(version, body, ctx);
    case kApiVersions:
      return rewriteApiVersions(version, body);
    case kFetch:
      if (version >= 16) return rewriteNodeEndpoints<FetchResponse>(version, body, ctx);
      return std::optional<std::string>();
    case kProduce:
      if (version >= 10) return rewriteNodeEndpoints<ProduceResponse>(version, body, ctx);
      return std::optional<std::string>();
    default:
      return std::optional<std::string>();
  }
}

void clampApiVersions(ApiVersionsResponse& response) {
  std::vector<ApiVersionsResponse::ApiVersion> kept;
  for (auto entry : response.api_keys) {
    if (isHiddenApi(entry.api_key)) continue;
    if (const ApiInfo* ours = findApi(entry.api_key)) {
      entry.min_version = std::max(entry.min_version, ours->min_version);
      entry.max_version = std::min(entry.max_version, ours->max_version);
    }
    if (entry.api_key == kSaslHandshake)
      entry.min_version = std::max<int16_t>(entry.min_version, 1);
    if (entry.min_version > entry.max_version) {
      TM_LOG(Warn, "proxy", "API dropped from ApiVersions: no version in common")
          .kv("api_key", entry.api_key);
      continue;
    }
    kept.push_back(entry);
  }
  response.api_keys = std::move(kept);
}

std::string unsupportedApiVersionsBody() {
  ApiVersionsResponse r;
  r.error_code = kUnsupportedVersion;
  const ApiInfo* ours = findApi(kApiVersions);
  r.api_keys.push_back({kApiVersions, ours->min_version, ours->max_version, {}});
  return *r.serialize(0);
}

}  // namespace tidemark::proxy
