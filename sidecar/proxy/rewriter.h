#pragma once

// What the proxy changes in responses, as pure functions over decoded bodies:
// every broker address becomes one of the sidecar's listeners, and the
// ApiVersions answer is clamped to what the sidecar can decode. Kept free of
// sockets so each rule is unit-tested on its own. Loop thread only (the
// BrokerMap and TopicCache it feeds are).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/kafka/messages.h"
#include "sidecar/base/status.h"
#include "sidecar/proxy/broker_map.h"
#include "sidecar/proxy/topic_cache.h"

namespace tidemark::proxy {

struct RewriteContext {
  BrokerMap& brokers;
  TopicCache& topics;
};

// Whether the response to API `key` at `version` must be decoded before it
// reaches the client (it can carry broker addresses or versions to clamp).
// Everything else is forwarded as opaque bytes.
bool mustInspectResponse(int16_t key, int16_t version);

// The rewritten body, or nullopt when the original bytes can be forwarded
// unchanged. An error means the body could not be decoded: the connection is
// closed rather than risk leaking an upstream address.
StatusOr<std::optional<std::string>> rewriteResponse(int16_t key, int16_t version,
                                                     std::string_view body, RewriteContext& ctx);

// APIs removed from the ApiVersions answer. ConsumerGroupHeartbeat (KIP-848):
// the new group protocol's assignments travel in messages the sidecar does not
// decode, so clients fall back to the classic protocol it understands.
bool isHiddenApi(int16_t key);

// For APIs the sidecar decodes, the intersection of upstream's range and the
// sidecar's (dropped when empty); SaslHandshake raised to v1 (v0 switches the
// connection to raw SASL frames); hidden APIs removed; others as upstream says.
void clampApiVersions(kafka::ApiVersionsResponse& response);

// The body (v0) the sidecar answers itself to an ApiVersions request newer
// than it decodes: UNSUPPORTED_VERSION plus the ApiVersions range it supports,
// as a broker does (KIP-511), so the client retries with a version it knows.
std::string unsupportedApiVersionsBody();

}  // namespace tidemark::proxy
