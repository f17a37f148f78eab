// Fuzz target: a request frame from the application, as the proxy's session
// reads it (sidecar/proxy/session.cc: pumpRequests, startRequest,
// handleGroupRequest, produceAcks). Input: the frame without its length
// prefix (request header + body), the layout of
// tests/protocol/kafka/golden/*-request.bin; the API and version come from
// the header, as on the wire (APIs and versions the registry does not decode
// are refused by the session before anything is read, and end the input).
// Drives: the request header; the codec (decode, re-encode, decodePrefix);
// Produce's acks peek over every prefix of the frame; the group-offset
// requests the sidecar looks inside (decodeCommit, decodeSyncGroupMember,
// decodeHeartbeatMember, decodeEndTxn, offsetFetchGroup) and the answers it
// builds for them (success, not-durable and rejoin bodies, syncGroupError,
// endTxnAnswer).
// Checks, besides no crash and no sanitizer report:
// - header and body are stable through the codec (as kafka_codec checks);
// - a body the codec decodes strictly, the proxy's lenient readers decode too;
// - acks read from any prefix agree with the whole frame's, and with the
//   decoded Produce request;
// - the answers the sidecar makes up decode at the request's version and say
//   what they mean: success has no failed partition, not-durable and rejoin
//   fail every partition, rejoin (only) reads as ILLEGAL_GENERATION, a
//   SyncGroup error answer assigns nothing.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/kafka/header.h"
#include "protocol/kafka/messages.h"
#include "sidecar/base/log.h"
#include "sidecar/proxy/lenient.h"
#include "sidecar/proxy/offsets.h"
#include "sidecar/proxy/request_peek.h"
#include "sidecar/proxy/rewriter.h"

using namespace tidemark;

namespace {

constexpr int16_t kProduceKey = 0;

void check(bool ok) {
  if (!ok) std::abort();
}

bool decodesAsResponse(int16_t key, int16_t version, const std::string& body) {
  auto once = kafka::roundTrip(key, version, /*request=*/false, body);
  return once.isOk() && *once == body;
}

void produce(std::string_view frame, int16_t version, std::optional<std::string_view> body) {
  auto whole = proxy::peekProduceAcks(frame, version, /*whole_frame=*/true);
  if (whole.isOk()) check(whole->has_value());
  // Every prefix the session could have peeked at: a value it reads early is
  // the value the whole frame holds.
  const size_t limit = std::min<size_t>(frame.size(), 512);
  for (size_t n = 0; n <= limit; ++n) {
    const bool complete = n == frame.size();
    auto part = proxy::peekProduceAcks(frame.substr(0, n), version, complete);
    if (!complete) check(part.isOk());  // a prefix never fails, it waits
    if (part.isOk() && part->has_value()) {
      check(whole.isOk() && **part == **whole);
    }
  }
  if (!body) return;
  auto decoded = proxy::decodeLenient<kafka::ProduceRequest>(*body, version);
  if (decoded.isOk()) check(whole.isOk() && decoded->msg.acks == **whole);
}

void commit(int16_t key, int16_t version, std::string_view body, bool strict_ok) {
  auto c = proxy::decodeCommit(key, version, body);
  if (strict_ok) check(c.isOk());
  if (!c.isOk()) return;
  for (const std::string* answer : {&c->success_body, &c->not_durable_body, &c->rejoin_body}) {
    check(decodesAsResponse(key, version, *answer));
  }
  auto ok_errors = proxy::commitErrors(key, version, c->success_body);
  auto timeout_errors = proxy::commitErrors(key, version, c->not_durable_body);
  auto rejoin_errors = proxy::commitErrors(key, version, c->rejoin_body);
  check(ok_errors.isOk() && timeout_errors.isOk() && rejoin_errors.isOk());
  const int partitions = *timeout_errors;
  check(*ok_errors == 0 && *rejoin_errors == partitions);
  check(c->offsets.size() <= static_cast<size_t>(partitions));
  check(c->offsets.empty() == (partitions == 0));
  for (const auto& [id, offset] : c->offsets) {
    check(id.group == c->group);
    check(offset.generation == c->generation_id);
  }
  auto stale_ok = proxy::staleMemberError(key, version, c->success_body);
  auto stale_timeout = proxy::staleMemberError(key, version, c->not_durable_body);
  auto stale_rejoin = proxy::staleMemberError(key, version, c->rejoin_body);
  check(stale_ok.isOk() && *stale_ok == 0);
  check(stale_timeout.isOk() && *stale_timeout == 0);
  check(stale_rejoin.isOk() && *stale_rejoin == (partitions > 0 ? proxy::kIllegalGeneration : 0));
  if (key == proxy::kTxnOffsetCommitKey) {
    auto d = proxy::decodeLenient<kafka::TxnOffsetCommitRequest>(body, version);
    check(d.isOk() && d->msg.transactional_id == c->transactional_id);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool kQuiet = [] {
    log::setSink([](std::string_view) {});
    // The session's own answer to an ApiVersions request newer than it decodes.
    const std::string unsupported = proxy::unsupportedApiVersionsBody();
    check(decodesAsResponse(kafka::kApiVersionsKey, 0, unsupported));
    return true;
  }();
  (void)kQuiet;
  if (size < kafka::kRequestPrefixBytes) return 0;
  const std::string_view frame(reinterpret_cast<const char*>(data), size);

  // What the session reads before the frame is complete: the fixed prefix.
  const kafka::RequestHeader prefix = kafka::peekRequestPrefix(frame.data());
  const kafka::ApiInfo* api = kafka::findApi(prefix.api_key);
  if (api == nullptr || prefix.api_version < api->min_version ||
      prefix.api_version > api->max_version) {
    return 0;  // refused (or answered with unsupportedApiVersionsBody)
  }
  const int16_t key = prefix.api_key;
  const int16_t version = prefix.api_version;

  kafka::Reader r(frame);
  const kafka::RequestHeader header = kafka::decodeRequestHeader(r);
  // Produce's acks are peeked before the frame is whole, header or not.
  if (key == kProduceKey) {
    produce(frame, version, r.ok() ? std::optional(frame.substr(r.consumed())) : std::nullopt);
  }
  if (!r.ok()) return 0;  // the session closes the connection
  check(header.api_key == key && header.api_version == version &&
        header.correlation_id == prefix.correlation_id);
  {
    std::string out;
    kafka::Writer w(out);
    kafka::encodeRequestHeader(w, header);
    kafka::Reader again(out);
    check(kafka::decodeRequestHeader(again) == header);
    check(again.ok() && again.remaining() == 0);
  }
  const std::string_view body = frame.substr(r.consumed());

  auto once = kafka::roundTrip(key, version, /*request=*/true, body);
  const bool strict_ok = once.isOk();
  if (strict_ok) {
    auto twice = kafka::roundTrip(key, version, /*request=*/true, *once);
    check(twice.isOk() && *twice == *once);
  }
  auto used = kafka::decodePrefix(key, version, /*request=*/true, body);
  if (used.isOk()) check(*used <= body.size());
  if (strict_ok) check(used.isOk() && *used == body.size());

  switch (key) {
    case kProduceKey:
      // The acks peek read the body through the header it decodes itself.
      if (strict_ok) check(proxy::peekProduceAcks(frame, version, true).isOk());
      break;
    case proxy::kOffsetCommitKey:
    case proxy::kTxnOffsetCommitKey:
      commit(key, version, body, strict_ok);
      break;
    case proxy::kSyncGroupKey: {
      auto member = proxy::decodeSyncGroupMember(version, body);
      if (strict_ok) check(member.isOk());
      auto answer = proxy::syncGroupError(version, proxy::kRebalanceInProgress);
      check(answer.isOk() && decodesAsResponse(key, version, *answer));
      auto assigned = proxy::decodeSyncGroupAssignment(version, *answer);
      check(assigned.isOk() && !assigned->has_value());
      break;
    }
    case proxy::kHeartbeatKey: {
      auto member = proxy::decodeHeartbeatMember(version, body);
      if (strict_ok) check(member.isOk());
      break;
    }
    case proxy::kEndTxnKey: {
      auto end = proxy::decodeEndTxn(version, body);
      if (strict_ok) check(end.isOk());
      auto answer = proxy::endTxnAnswer(version, proxy::kCoordinatorLoadInProgress);
      check(answer.isOk() && decodesAsResponse(key, version, *answer));
      break;
    }
    case proxy::kOffsetFetchKey:
      if (version <= 7) {
        auto group = proxy::offsetFetchGroup(version, body);
        if (strict_ok) check(group.isOk());
      }
      break;
    default:
      break;
  }
  return 0;
}
