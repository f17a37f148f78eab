#include "sidecar/proxy/request_peek.h"

#include "protocol/kafka/header.h"

namespace tidemark::proxy {

StatusOr<std::optional<int16_t>> peekProduceAcks(std::string_view prefix, int16_t version,
                                                 bool whole_frame) {
  kafka::Reader r(prefix);
  kafka::RequestHeader h = kafka::decodeRequestHeader(r);
  (void)h;
  const bool flexible = kafka::isFlexible(0, version);
  if (version >= 3) (void)r.readNullableString(flexible);
  int16_t acks = r.readInt16();
  if (r.ok()) return std::optional<int16_t>(acks);
  if (whole_frame) return invalidArgument("malformed Produce request: " + r.error());
  return std::optional<int16_t>();
}

}  // namespace tidemark::proxy
