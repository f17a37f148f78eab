#pragma once

// Decoding a message the proxy looks inside, tolerating bytes after it. Peers
// send such bytes (librdkafka 2.15.1's mock ends Metadata v12 with an extra
// empty tag section; its client pads Metadata v12 requests); Kafka's own
// readers ignore them, and so does the proxy: they are kept and written back
// after the re-encoded message, never dropped.

#include <optional>
#include <string>
#include <string_view>

#include "protocol/kafka/header.h"
#include "protocol/kafka/messages.h"
#include "sidecar/base/status.h"

namespace tidemark::proxy {

template <typename M>
struct Decoded {
  M msg;
  std::string_view trailing;  // bytes after the message, kept verbatim
};

template <typename M>
StatusOr<Decoded<M>> decodeLenient(std::string_view body, int16_t version) {
  Decoded<M> d;
  kafka::Reader r(body);
  d.msg.decode(r, version, kafka::isFlexible(M::kApiKey, version));
  if (!r.ok()) {
    return invalidArgument(std::string(kafka::findApi(M::kApiKey)->name) +
                           (M::kIsRequest ? " request v" : " response v") +
                           std::to_string(version) + ": " + r.error());
  }
  d.trailing = body.substr(r.consumed());
  return d;
}

// The message re-encoded at `version`, followed by the bytes that trailed it.
template <typename M>
StatusOr<std::optional<std::string>> reencode(const Decoded<M>& d, int16_t version) {
  TM_ASSIGN_OR_RETURN(std::string out, d.msg.serialize(version));
  out.append(d.trailing);
  return std::optional<std::string>(std::move(out));
}

}  // namespace tidemark::proxy
