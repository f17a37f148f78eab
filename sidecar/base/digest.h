#pragma once

// SHA-256 (OpenSSL behind one seam) and hex. The digest algorithm is fetched
// once: OpenSSL 3 otherwise looks it up by name, under a lock, on every call,
// which was a visible share of a 1 KiB state PUT.

#include <string>
#include <string_view>

namespace tidemark {

// The 32-byte digest.
std::string sha256(std::string_view data);
// Lower-case hex of `bytes`.
std::string toHex(std::string_view bytes);

}  // namespace tidemark
