// Fuzz target: everything the proxy decodes from a peer's bytes. Input layout:
//   byte 0: which API (index into kApis), byte 1: version (mod its range),
//   byte 2: bit 0 = request (1) or response (0), rest: the message body.
// Checks: no crash, no sanitizer report, and re-encoding is stable (what the
// codec writes, it reads back and writes identically).

#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>
#include <string_view>

#include "protocol/kafka/header.h"
#include "protocol/kafka/messages.h"
#include "sidecar/base/log.h"
#include "sidecar/proxy/request_peek.h"
#include "sidecar/proxy/rewriter.h"
#include "tests/fuzz/fuzz_input.h"

using namespace tidemark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::silenceLogs();
  if (size < 3) return 0;
  const kafka::ApiInfo& api = fuzz::apiOf(data[0]);
  const int16_t version = fuzz::versionOf(api, data[1]);
  const bool request = (data[2] & 1) != 0;
  const std::string_view body(reinterpret_cast<const char*>(data + 3), size - 3);

  auto once = kafka::roundTrip(api.key, version, request, body);
  if (once.isOk()) {
    auto twice = kafka::roundTrip(api.key, version, request, *once);
    if (!twice.isOk() || *twice != *once) std::abort();
  }
  (void)kafka::decodePrefix(api.key, version, request, body);

  if (!request) {
    proxy::BrokerMap brokers("127.0.0.1", 19100, nullptr);
    proxy::TopicCache topics;
    proxy::RewriteContext ctx{brokers, topics};
    (void)proxy::rewriteResponse(api.key, version, body, ctx);
  } else {
    kafka::Reader r(body);
    (void)kafka::decodeRequestHeader(r);
    (void)proxy::peekProduceAcks(body, version, true);
  }
  return 0;
}
