#pragma once

// The few facts the proxy reads from requests it otherwise forwards untouched.

#include <cstdint>
#include <optional>
#include <string_view>

#include "sidecar/base/status.h"

namespace tidemark::proxy {

// A Produce request's acks, read from the start of its frame body (the bytes
// after the length prefix: header, then transactional_id (v3+), then acks).
// nullopt: `prefix` is too short to tell. An error: the bytes cannot be a
// Produce request of `version`.
StatusOr<std::optional<int16_t>> peekProduceAcks(std::string_view prefix, int16_t version,
                                                 bool whole_frame);

}  // namespace tidemark::proxy
