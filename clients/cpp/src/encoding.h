#pragma once

// The pure encodings the client needs: URLs (the base URL, keys in paths,
// query strings) and base64 (state values inside POST /v1/commit). No I/O.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tidemark::detail {

// Percent-encodes every byte except RFC 3986's unreserved ones
// (A-Z a-z 0-9 - . _ ~), as Python's urllib.parse.quote(s, safe="") does, so
// all clients send the same bytes. For one path segment or query component.
std::string percentEncode(std::string_view component);

// The URL path of a state key: each '/'-separated segment percent-encoded on
// its own, '/' kept as the separator ("a:b/c d" -> "a%3Ab/c%20d"). The
// sidecar, not the client, decides which keys are valid.
std::string encodeKey(std::string_view key);

// "?k=v&k2=v2" with both sides percent-encoded; "" for no pairs.
std::string encodeQuery(const std::vector<std::pair<std::string, std::string>>& pairs);

// RFC 4648 base64 with the standard alphabet, padded.
std::string base64Encode(std::string_view bytes);
// The bytes of padded RFC 4648 base64; nullopt for anything else (wrong
// length, characters outside the alphabet, misplaced padding).
std::optional<std::string> base64Decode(std::string_view text);

// http://host[:port][/prefix] taken apart. Only plain http: the sidecar's API
// is served on loopback, and this client speaks no TLS.
struct BaseUrl {
  std::string host;  // without IPv6 brackets, for getaddrinfo
  std::uint16_t port = 80;
  std::string host_header;  // host[:port] as written, for the Host header
  std::string prefix;       // "" or "/path" without a trailing '/'
};

// The parsed URL, or nullopt with the reason in `why`.
std::optional<BaseUrl> parseBaseUrl(std::string_view url, std::string& why);

}  // namespace tidemark::detail
