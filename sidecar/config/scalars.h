#pragma once

// Parsing and printing of the scalar formats config files use: durations
// ("60s", "1m30s", "250ms"), byte sizes ("64MiB"), host:port addresses.
// Each parser returns InvalidArgument with a message that says what was
// expected, for the loader to prefix with the field path.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/base/status.h"

namespace tidemark::config {

// Nanoseconds. Units: ns, us, ms, s, m, h; terms may be chained ("1h30m").
StatusOr<int64_t> parseDuration(std::string_view text);
std::string formatDuration(int64_t nanos);

// Bytes. A plain integer, or one with a unit: B, KiB, MiB, GiB, TiB (1024-based)
// or KB, MB, GB, TB (1000-based).
StatusOr<uint64_t> parseBytes(std::string_view text);
std::string formatBytes(uint64_t bytes);

// Strict decimal integer; no sign for unsigned, no spaces, no fraction.
StatusOr<int64_t> parseInt(std::string_view text);
StatusOr<uint64_t> parseUint(std::string_view text);

struct HostPort {
  std::string host;  // without IPv6 brackets
  uint16_t port = 0;
  std::string toString() const;  // brackets an IPv6 host again
};
StatusOr<HostPort> parseHostPort(std::string_view text);
// 127.0.0.0/8, ::1 or "localhost": reachable only from this host (pod).
bool isLoopback(std::string_view host);
// Kafka's topic-name rule: [A-Za-z0-9._-]{1,249}, not "." or "..".
bool isKafkaTopicName(std::string_view name);

// The offset of the first byte of `text` that is not strict UTF-8 (no
// overlong forms, surrogates, or code points past U+10FFFF); nullopt when
// all of it is. Config strings are protobuf strings, which must be UTF-8.
std::optional<size_t> firstInvalidUtf8(std::string_view text);

// "http://host:port/path" (plain HTTP only: the application beside the sidecar).
struct HttpUrl {
  HostPort address;
  std::string path;  // starts with '/'
};
StatusOr<HttpUrl> parseHttpUrl(std::string_view text);
StatusOr<std::vector<HostPort>> parseHostPortList(std::string_view text);
Status checkHost(std::string_view host);

}  // namespace tidemark::config
