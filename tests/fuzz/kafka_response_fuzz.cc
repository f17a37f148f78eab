// Fuzz target: a response frame from an upstream broker, as the proxy's
// session reads it (sidecar/proxy/session.cc, finishBufferedResponse), for
// every API and version the codec registry decodes. Input layout:
//   byte 0: which API (index into kafka::kApis), byte 1: version (mod its
//   range), byte 2: which partitions the fake checkpoint side knows (below),
//   rest: the frame without its length prefix (response header + body), the
//   layout of tests/protocol/kafka/golden/*-response.bin.
// Drives: the response header; the codec (decode, re-encode, decodePrefix);
// the proxy's rewriting (rewriteResponse: broker addresses, ApiVersions
// clamping; rewriteOffsetFetch: sealed offsets) and inspection
// (staleMemberError, commitErrors, decodeSyncGroupAssignment, the Fetch
// watermark tap).
// Checks, besides no crash and no sanitizer report:
// - the codec is stable: what it writes it reads back and writes identically;
// - a body the codec decodes strictly, the proxy's lenient readers decode too;
// - an answer the proxy does not inspect is never rewritten;
// - a rewritten answer decodes again, names no broker address but the
//   sidecar's own (advertised host), and rewriting it again changes nothing;
// - a rewritten OffsetFetch answer carries the sealed offset of every
//   partition the checkpoint side knows, with no error;
// - the Fetch watermark tap reads the same however the frame is cut, and on
//   an answer the codec decodes, exactly the decoder's watermarks.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/kafka/header.h"
#include "protocol/kafka/messages.h"
#include "sidecar/base/log.h"
#include "sidecar/proxy/fetch_watermarks.h"
#include "sidecar/proxy/lenient.h"
#include "sidecar/proxy/offsets.h"
#include "sidecar/proxy/rewriter.h"
#include "tests/fuzz/fuzz_input.h"

using namespace tidemark;

namespace {

constexpr int16_t kProduce = 0;
constexpr int16_t kFetch = 1;
constexpr int16_t kMetadata = 3;
constexpr int16_t kFindCoordinator = 10;
constexpr int16_t kDescribeCluster = 60;
constexpr char kAdvertisedHost[] = "sidecar.local";

void check(bool ok) {
  if (!ok) std::abort();
}

// The checkpoint side as rewriteOffsetFetch sees it: it knows the partitions
// whose index modulo 4 is below `known` (0: none, 4: all), with an offset
// derived from the partition so a wrong one would show.
class FakeHooks : public proxy::OffsetHooks {
 public:
  explicit FakeHooks(int known) : known_(known) {}
  static proxy::CommittedOffset offsetOf(const proxy::PartitionId& id) {
    const int64_t h = static_cast<int64_t>(std::hash<std::string>()(id.group + "\n" + id.topic));
    std::optional<std::string> meta;
    if (id.partition % 2 == 0) meta = "sealed-" + std::to_string(id.partition);
    return {(h & 0xffffff) + id.partition, id.partition % 7 - 1, meta, -1};
  }
  bool knows(const proxy::PartitionId& id) const {
    const int m = ((id.partition % 4) + 4) % 4;
    return m < known_;
  }

  proxy::CommitMode commitMode() const override { return proxy::CommitMode::kCheckpoint; }
  uint64_t commit(const std::map<proxy::PartitionId, proxy::CommittedOffset>&) override {
    return 0;
  }
  std::optional<proxy::CommittedOffset> sealedOffset(const proxy::PartitionId& id) const override {
    if (!knows(id)) return std::nullopt;
    return offsetOf(id);
  }
  void whenDurable(uint64_t, std::function<void(bool)>) override {}
  void checkpointNow(const std::string&, std::function<void(bool)>) override {}
  void memberSynced(const std::string&, const std::string&, int32_t) override {}
  void assigned(const std::string&, const std::string&,
                const std::map<std::string, std::vector<int32_t>>&,
                std::function<void(bool)>) override {}
  void fenced(const std::string&, const std::string&, int32_t, int16_t) override {}
  bool knowsMember(const std::string&, const std::string&) const override { return true; }
  void stageTxnOffsets(const std::string&,
                       const std::map<proxy::PartitionId, proxy::CommittedOffset>&) override {}
  void endTxn(const std::string&, bool, std::function<void(bool)>) override {}

 private:
  int known_;
};

template <typename Endpoints>
void checkEndpoints(const Endpoints& endpoints) {
  for (const auto& e : endpoints) check(e.host == kAdvertisedHost);
}

// What a rewritten answer may name: only the sidecar's advertised host.
void checkNoUpstreamAddress(int16_t key, int16_t version, std::string_view rewritten) {
  switch (key) {
    case kMetadata: {
      // Only the brokers are re-encoded; what follows them is the upstream's
      // bytes, forwarded whether or not they decode.
      const bool flexible = kafka::isFlexible(kMetadata, version);
      kafka::Reader r(rewritten);
      if (version >= 3) r.readInt32();
      const int32_t count = r.readArrayLength(flexible);
      check(r.ok() && count >= 0);
      for (int32_t i = 0; i < count; ++i) {
        kafka::MetadataResponse::Broker b;
        b.decode(r, version, flexible);
        check(r.ok() && b.host == kAdvertisedHost);
      }
      return;
    }
    case kFindCoordinator: {
      auto d = proxy::decodeLenient<kafka::FindCoordinatorResponse>(rewritten, version);
      check(d.isOk());
      // An error answer carries node -1 and no address: left alone.
      if (version <= 3 && d->msg.node_id >= 0) check(d->msg.host == kAdvertisedHost);
      for (const auto& c : d->msg.coordinators) {
        if (c.node_id >= 0) check(c.host == kAdvertisedHost);
      }
      return;
    }
    case kDescribeCluster: {
      auto d = proxy::decodeLenient<kafka::DescribeClusterResponse>(rewritten, version);
      check(d.isOk());
      checkEndpoints(d->msg.brokers);
      return;
    }
    case kFetch: {
      auto d = proxy::decodeLenient<kafka::FetchResponse>(rewritten, version);
      check(d.isOk());
      checkEndpoints(d->msg.node_endpoints);
      return;
    }
    case kProduce: {
      auto d = proxy::decodeLenient<kafka::ProduceResponse>(rewritten, version);
      check(d.isOk());
      checkEndpoints(d->msg.node_endpoints);
      return;
    }
    default: {
      const kafka::ApiInfo* api = kafka::findApi(key);
      check(api != nullptr);
      check(kafka::decodePrefix(key, version, /*request=*/false, rewritten).isOk());
      return;
    }
  }
}

template <typename Partition>
void checkSealed(const Partition& p, const proxy::PartitionId& id, const FakeHooks& hooks,
                 int16_t version) {
  if (!hooks.knows(id)) return;
  const proxy::CommittedOffset want = FakeHooks::offsetOf(id);
  check(p.committed_offset == want.offset);
  // v0-4 answers carry no leader epoch.
  check(p.committed_leader_epoch == (version >= 5 ? want.leader_epoch : -1));
  check(p.metadata == want.metadata);
  check(p.error_code == 0);
}

void offsetFetch(int16_t version, std::string_view body, bool strict_ok, int known) {
  const std::string group = "fuzz-group";
  FakeHooks hooks(known);
  auto rewritten = proxy::rewriteOffsetFetch(version, body, group, hooks);
  if (strict_ok) check(rewritten.isOk());
  if (!rewritten.isOk() || !rewritten->has_value()) return;
  auto d = proxy::decodeLenient<kafka::OffsetFetchResponse>(**rewritten, version);
  check(d.isOk());
  for (const auto& t : d->msg.topics) {
    for (const auto& p : t.partitions)
      checkSealed(p, {group, t.name, p.partition_index}, hooks, version);
  }
  for (const auto& g : d->msg.groups) {
    for (const auto& t : g.topics) {
      for (const auto& p : t.partitions) {
        checkSealed(p, {g.group_id, t.name, p.partition_index}, hooks, version);
      }
    }
  }
  // Sealed offsets applied once are applied: a second pass changes nothing.
  auto again = proxy::rewriteOffsetFetch(version, **rewritten, group, hooks);
  check(again.isOk());
  if (again->has_value()) check(**again == **rewritten);
}

}  // namespace

// The tap as the session streams a frame (record bytes skipped, the rest fed
// in pieces of `piece`), against the tap fed whole and against the decoder.
void fetchWatermarks(int16_t version, std::string_view frame, std::string_view body, bool strict_ok,
                     size_t piece) {
  std::string whole(4, '\0');
  kafka::storeInt32(whole.data(), static_cast<int32_t>(frame.size()));
  whole.append(frame);
  proxy::FetchWatermarkTap at_once(version);
  at_once.feed(whole);
  proxy::FetchWatermarkTap streamed(version);
  for (std::string_view rest = whole; !rest.empty();) {
    rest.remove_prefix(streamed.pass(std::min(rest.size(), piece), [&](char* dst, size_t k) {
      std::memcpy(dst, rest.data(), k);
    }));
  }
  check(at_once.complete() == streamed.complete());
  check(at_once.watermarks() == streamed.watermarks());
  if (!strict_ok) return;
  kafka::FetchResponse decoded;
  check(decoded.parse(body, version).isOk());
  // A header over the tap's limit is the one answer it may give up on.
  if (at_once.stopped().find("longer than") != std::string::npos) return;
  check(at_once.complete() && at_once.watermarks() == proxy::decodedWatermarks(decoded, version));
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::silenceLogs();
  if (size < 3) return 0;
  const kafka::ApiInfo& api = fuzz::apiOf(data[0]);
  const int16_t key = api.key;
  const int16_t version = fuzz::versionOf(api, data[1]);
  const int known = data[2] % 5;
  const std::string_view frame(reinterpret_cast<const char*>(data + 3), size - 3);

  // The response header, as the session reads it before anything else.
  kafka::Reader r(frame);
  const int header_version = kafka::responseHeaderVersion(key, version);
  const kafka::ResponseHeader header = kafka::decodeResponseHeader(r, header_version);
  if (!r.ok()) return 0;  // the session closes the connection
  {
    // Stable: the header re-encoded reads back the same (the first encoding
    // may differ from the input's: varints need not be minimal on the wire).
    std::string out;
    kafka::Writer w(out);
    kafka::encodeResponseHeader(w, header, header_version);
    kafka::Reader again(out);
    check(kafka::decodeResponseHeader(again, header_version) == header);
    check(again.ok() && again.remaining() == 0);
  }
  const std::string_view body = frame.substr(r.consumed());

  // The codec.
  auto once = kafka::roundTrip(key, version, /*request=*/false, body);
  const bool strict_ok = once.isOk();
  if (strict_ok) {
    auto twice = kafka::roundTrip(key, version, /*request=*/false, *once);
    check(twice.isOk() && *twice == *once);
  }
  auto prefix = kafka::decodePrefix(key, version, /*request=*/false, body);
  if (prefix.isOk()) check(*prefix <= body.size());
  if (strict_ok) check(prefix.isOk() && *prefix == body.size());

  // The proxy's address rewriting and ApiVersions clamping.
  int new_nodes = 0;
  proxy::BrokerMap brokers(kAdvertisedHost, 19100, [&](int32_t) { ++new_nodes; });
  proxy::TopicCache topics;
  proxy::RewriteContext ctx{brokers, topics};
  auto rewritten = proxy::rewriteResponse(key, version, body, ctx);
  if (strict_ok) check(rewritten.isOk());
  if (!proxy::mustInspectResponse(key, version)) check(rewritten.isOk() && !rewritten->has_value());
  if (rewritten.isOk() && rewritten->has_value()) {
    const std::string& out = **rewritten;
    checkNoUpstreamAddress(key, version, out);
    const int learnt = new_nodes;
    auto again = proxy::rewriteResponse(key, version, out, ctx);
    check(again.isOk());
    if (again->has_value()) check(**again == out);
    check(new_nodes == learnt);  // the second pass learnt no new broker
  }

  // What the checkpoint side reads from answers (with offset hooks installed).
  switch (key) {
    case proxy::kOffsetFetchKey:
      offsetFetch(version, body, strict_ok, known);
      break;
    case proxy::kOffsetCommitKey:
    case proxy::kTxnOffsetCommitKey: {
      auto stale = proxy::staleMemberError(key, version, body);
      auto errors = proxy::commitErrors(key, version, body);
      if (strict_ok) check(stale.isOk() && errors.isOk());
      if (errors.isOk()) check(*errors >= 0);
      // A stale member's error is a failed partition.
      if (stale.isOk() && *stale != 0) check(errors.isOk() && *errors > 0);
      break;
    }
    case proxy::kHeartbeatKey: {
      auto stale = proxy::staleMemberError(key, version, body);
      if (strict_ok) check(stale.isOk());
      break;
    }
    case proxy::kSyncGroupKey: {
      auto assigned = proxy::decodeSyncGroupAssignment(version, body);
      if (strict_ok) check(assigned.isOk());
      if (assigned.isOk() && assigned->has_value()) {
        size_t partitions = 0;
        for (const auto& [topic, list] : **assigned) partitions += list.size();
        check(partitions * 4 <= body.size());  // each came from 4 bytes of the assignment
      }
      break;
    }
    case kFetch:
      fetchWatermarks(version, frame, body, strict_ok, 1 + known * 7);
      break;
    default:
      break;
  }
  return 0;
}
