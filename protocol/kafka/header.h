#pragma once

// Kafka request and response headers, and framing. Hand-written rather than
// generated because of their special rules: the request header's client_id is
// never a compact string; the ApiVersions response header is always v0
// (KIP-511); the header version follows from the API's flexible versions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/kafka/wire.h"
#include "sidecar/base/status.h"

namespace tidemark::kafka {

constexpr int16_t kApiVersionsKey = 18;
constexpr size_t kLengthPrefixBytes = 4;
// api_key + api_version + correlation_id: the part of a request header that is
// the same in every version, and all the proxy reads of frames it forwards.
constexpr size_t kRequestPrefixBytes = 8;

struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
  TaggedFields unknown_tags;
  bool operator==(const RequestHeader&) const = default;
};

struct ResponseHeader {
  int32_t correlation_id = 0;
  TaggedFields unknown_tags;
  bool operator==(const ResponseHeader&) const = default;
};

// Whether `version` of API `key` uses flexible encodings. Unknown APIs: false.
bool isFlexible(int16_t key, int16_t version);
int requestHeaderVersion(int16_t key, int16_t version);   // 1 or 2
int responseHeaderVersion(int16_t key, int16_t version);  // 0 or 1

// The fixed 8-byte prefix of any request header (big-endian key, version, id).
RequestHeader peekRequestPrefix(const char* eight_bytes);
int32_t loadInt32(const char* four_bytes);
int16_t loadInt16(const char* two_bytes);
void storeInt32(char* four_bytes, int32_t v);

// Decodes a request header from the start of `r` (header version chosen from
// the API key and version it contains).
RequestHeader decodeRequestHeader(Reader& r);
void encodeRequestHeader(Writer& w, const RequestHeader& h);

ResponseHeader decodeResponseHeader(Reader& r, int header_version);
void encodeResponseHeader(Writer& w, const ResponseHeader& h, int header_version);

}  // namespace tidemark::kafka
