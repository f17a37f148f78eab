#include "sidecar/proxy/session.h"

#include <algorithm>

#include "protocol/kafka/header.h"
#include "protocol/kafka/messages.h"
#include "sidecar/base/log.h"
#include "sidecar/proxy/offsets.h"
#include "sidecar/proxy/request_peek.h"

namespace tidemark::proxy {
namespace {

using kafka::kLengthPrefixBytes;
using kafka::kRequestPrefixBytes;

constexpr int16_t kProduceKey = 0;
constexpr int16_t kFetchKey = 1;
// Produce's acks sits after the header and transactional_id: both short strings.
constexpr size_t kMaxProducePeek = 2 * 32768 + 64;
constexpr size_t kTypicalProducePeek = 512;

std::string lengthPrefixed(std::string_view body) {
  std::string frame(kLengthPrefixBytes, '\0');
  kafka::storeInt32(frame.data(), static_cast<int32_t>(body.size()));
  frame.append(body);
  return frame;
}

// A whole response frame (length, header, body) the sidecar answers itself.
std::string responseFrame(int32_t correlation_id, int16_t key, int16_t version,
                          std::string_view body) {
  std::string out;
  kafka::Writer w(out);
  kafka::encodeResponseHeader(w, {correlation_id, {}}, kafka::responseHeaderVersion(key, version));
  out.append(body);
  return lengthPrefixed(out);
}

}  // namespace

Session::Session(event::EventLoop& loop, evdns_base* dns, int client_fd, std::string peer,
                 const UpstreamAddress& upstream, SessionOptions options, RewriteContext ctx,
                 std::function<void(Session*)> on_closed)
    : loop_(loop),
      peer_(std::move(peer)),
      options_(std::move(options)),
      ctx_(ctx),
      on_closed_(std::move(on_closed)) {
  client_ = event::TcpStream::adopt(
      loop_, client_fd, peer_,
      {.on_connected = nullptr,
       .on_data = [this] { onClientData(); },
       .on_drained =
           [this] {
             if (upstream_) upstream_->resumeReading();
           },
       .on_closed = [this](std::string reason) { onClientClosed(reason); }});
  client_->setDrainedMark(kLowWater);
  // The application reached us on loopback at once, so its own connect
  // timeout cannot notice a broker that drops packets: this one does.
  connect_timer_ = loop_.createTimer([this] {
    TM_LOG(Warn, "proxy", "upstream connect timed out")
        .kv("peer", peer_)
        .kv("upstream", upstream_->peer())
        .kv("timeout_ms", options_.connect_timeout.count());
    finish("upstream connect timed out");
  });
  connect_timer_->arm(options_.connect_timeout);
  upstream_ = event::TcpStream::connect(
      loop_, dns, upstream.host, upstream.port,
      {.on_connected = [this] { connect_timer_->cancel(); },
       .on_data = [this] { onUpstreamData(); },
       .on_drained =
           [this] {
             if (client_) client_->resumeReading();
           },
       .on_closed = [this](std::string reason) { onUpstreamClosed(reason); }},
      options_.upstream_tls);
  upstream_->setDrainedMark(kLowWater);
  TM_LOG(Debug, "proxy", "connection opened")
      .kv("peer", peer_)
      .kv("listener", options_.listener)
      .kv("upstream", upstream_->peer());
}

Session::~Session() = default;

void Session::onClientData() {
  if (done_ || !upstream_) return;
  if (pumpRequests()) applyBackpressure();
}

void Session::onUpstreamData() {
  if (done_ || !client_) return;
  if (pumpResponses()) applyBackpressure();
}

void Session::onClientClosed(const std::string& reason) { finish("client: " + reason); }

void Session::onUpstreamClosed(const std::string& reason) {
  if (done_) return;
  if (!client_ || !upstream_) return finish("upstream: " + reason);
  // Deliver every complete answer already received, then close the client:
  // it sees an ordinary connection loss and retries through its own logic.
  if (!pumpResponses()) return;
  if (reason.rfind("TLS", 0) == 0) {
    TM_LOG(Warn, "proxy", "upstream connection failed").kv("peer", peer_).kv("reason", reason);
  } else {
    TM_LOG(Debug, "proxy", "upstream closed").kv("peer", peer_).kv("reason", reason);
  }
  client_->closeAfterFlush();
}

bool Session::pumpRequests() {
  while (!done_) {
    const size_t avail = client_->inputSize();
    if (request_left_ > 0) {
      if (avail == 0) break;
      const size_t n = std::min(avail, request_left_);
      client_->moveTo(*upstream_, n);
      if (options_.metrics != nullptr) options_.metrics->toUpstream(n);
      request_left_ -= n;
      client_->expectBytes(request_left_);
      if (request_left_ == 0) runIdleActions();
      continue;
    }
    if (avail < kLengthPrefixBytes + kRequestPrefixBytes) break;
    char head[kLengthPrefixBytes + kRequestPrefixBytes];
    client_->peek(head, sizeof(head));
    const int32_t length = kafka::loadInt32(head);
    const kafka::RequestHeader h = kafka::peekRequestPrefix(head + kLengthPrefixBytes);
    if (length < static_cast<int32_t>(kRequestPrefixBytes) ||
        static_cast<uint64_t>(length) > options_.max_frame_bytes) {
      fail("request frame size " + std::to_string(length) + " outside 8.." +
               std::to_string(options_.max_frame_bytes),
           h.api_key, h.api_version);
      return false;
    }
    if (!startRequest(h, static_cast<uint32_t>(length))) return !done_;
    if (options_.metrics != nullptr) options_.metrics->request(h.api_key);
  }
  return !done_;
}

// Reads what the proxy needs from a request's first bytes and queues its
// answer slot. Returns false to wait for more bytes (or after failing).
bool Session::startRequest(const kafka::RequestHeader& h, uint32_t length) {
  const size_t frame = kLengthPrefixBytes + length;
  const size_t avail = client_->inputSize();
  const kafka::ApiInfo* api = kafka::findApi(h.api_key);
  if (api != nullptr && (h.api_version < api->min_version || h.api_version > api->max_version)) {
    if (h.api_key == kafka::kApiVersionsKey && h.api_version > api->max_version) {
      if (avail < frame) return false;
      (void)client_->take(frame);
      answerLocally(h.correlation_id, h.api_key, h.api_version, unsupportedApiVersionsBody());
      return true;
    }
    fail("request version outside what the sidecar decodes", h.api_key, h.api_version);
    return false;
  }
  if (options_.offsets != nullptr &&
      (h.api_key == kOffsetCommitKey || h.api_key == kTxnOffsetCommitKey ||
       h.api_key == kEndTxnKey || h.api_key == kOffsetFetchKey || h.api_key == kJoinGroupKey ||
       h.api_key == kLeaveGroupKey || h.api_key == kSyncGroupKey || h.api_key == kHeartbeatKey)) {
    if (avail < frame) return false;  // small requests: read them whole
    return handleGroupRequest(h, length);
  }
  bool expects_response = true;
  if (h.api_key == kProduceKey) {
    auto acks = produceAcks(h, frame, avail);
    if (!acks.has_value()) return false;
    expects_response = *acks != 0;  // acks=0: the broker sends nothing back
  }
  if (expects_response) {
    auto entry = std::make_shared<InFlight>(InFlight{h.correlation_id, h.api_key, h.api_version});
    inflight_.push_back(entry);
    upstream_order_.push_back(std::move(entry));
  }
  request_left_ = frame;
  return true;
}

// Produce's acks, from the request's first bytes: nullopt to wait for more
// bytes (or after failing). Client id and transactional id before it are
// short in practice, so a small peek almost always suffices; the larger one
// covers the longest strings the protocol allows.
std::optional<int16_t> Session::produceAcks(const kafka::RequestHeader& h, size_t frame,
                                            size_t avail) {
  for (size_t limit : {kTypicalProducePeek, kMaxProducePeek}) {
    const size_t want = std::min(frame, kLengthPrefixBytes + limit);
    std::string prefix(std::min(avail, want), '\0');
    client_->peek(prefix.data(), prefix.size());
    auto acks = peekProduceAcks(std::string_view(prefix).substr(kLengthPrefixBytes), h.api_version,
                                prefix.size() == frame);
    if (!acks.isOk()) {
      fail(acks.status().message(), h.api_key, h.api_version);
      return std::nullopt;
    }
    if (acks->has_value()) return **acks;
    if (prefix.size() < want) return std::nullopt;  // more bytes will come
  }
  fail("Produce request without acks", h.api_key, h.api_version);
  return std::nullopt;
}

// OffsetCommit/TxnOffsetCommit are recorded and sealed; OffsetFetch remembers
// its group for the rewrite of its answer; JoinGroup/LeaveGroup wait for a
// checkpoint so that partitions about to move away are saved first.
bool Session::handleGroupRequest(const kafka::RequestHeader& prefix, uint32_t length) {
  std::string frame = client_->take(kLengthPrefixBytes + length);
  kafka::Reader r(std::string_view(frame).substr(kLengthPrefixBytes));
  (void)kafka::decodeRequestHeader(r);
  if (!r.ok()) {
    fail("malformed request header: " + r.error(), prefix.api_key, prefix.api_version);
    return false;
  }
  const std::string_view body = std::string_view(frame).substr(kLengthPrefixBytes + r.consumed());
  auto entry = std::make_shared<InFlight>(
      InFlight{prefix.correlation_id, prefix.api_key, prefix.api_version});
  inflight_.push_back(entry);
  std::weak_ptr<bool> alive = alive_;

  if (prefix.api_key == kOffsetFetchKey) {
    if (prefix.api_version <= 7) {
      auto group = offsetFetchGroup(prefix.api_version, body);
      if (!group.isOk()) {
        fail(group.status().message(), prefix.api_key, prefix.api_version);
        return false;
      }
      entry->group = *group;
    }
    forward(entry, std::move(frame));
    return true;
  }
  if (prefix.api_key == kJoinGroupKey || prefix.api_key == kLeaveGroupKey) {
    const char* trigger = prefix.api_key == kJoinGroupKey ? "rebalance" : "leave-group";
    options_.offsets->checkpointNow(trigger, [this, alive, entry, frame](bool) mutable {
      if (alive.expired()) return;
      forward(entry, std::move(frame));  // even after a failed checkpoint: never stall the group
    });
    return true;
  }
  if (prefix.api_key == kEndTxnKey) return handleEndTxn(prefix, body, entry, std::move(frame));
  if (prefix.api_key == kSyncGroupKey || prefix.api_key == kHeartbeatKey) {
    auto member = prefix.api_key == kSyncGroupKey ? decodeSyncGroupMember(prefix.api_version, body)
                                                  : decodeHeartbeatMember(prefix.api_version, body);
    if (!member.isOk()) {
      fail(member.status().message(), prefix.api_key, prefix.api_version);
      return false;
    }
    if (prefix.api_key == kSyncGroupKey) {
      options_.offsets->memberSynced(member->group, member->member_id, member->generation_id);
    }
    // The answer says what the group assigned (SyncGroup) or whether the
    // member is stale (Heartbeat).
    entry->group = member->group;
    entry->generation = member->generation_id;
    entry->member = member->member_id;
    forward(entry, std::move(frame));
    return true;
  }
  auto commit = decodeCommit(prefix.api_key, prefix.api_version, body);
  if (!commit.isOk()) {
    fail(commit.status().message(), prefix.api_key, prefix.api_version);
    return false;
  }
  if (prefix.api_key == kOffsetCommitKey && commit->generation_id >= 0 &&
      !options_.offsets->knowsMember(commit->group, commit->member_id)) {
    // The member joined before this sidecar instance started (it restarted):
    // state it wrote to the previous instance may be lost, so sealing these
    // offsets could pair them with older state. Make it rejoin: its
    // assignment callback then reloads the sealed state and position.
    TM_LOG(Info, "offsets",
           "commit from a member that did not join through this sidecar: "
           "asking it to rejoin")
        .kv("peer", peer_)
        .kv("group", commit->group)
        .kv("member", commit->member_id);
    answerQueued(entry, commit->rejoin_body);
    return true;
  }
  entry->group = commit->group;  // its answer may say the member is stale
  entry->generation = commit->generation_id;
  entry->member = commit->member_id;
  if (prefix.api_key == kTxnOffsetCommitKey) {
    // Part of the producer's transaction: upstream must see it now, and it
    // counts as processed only if the transaction commits (EndTxn).
    options_.offsets->stageTxnOffsets(commit->transactional_id, commit->offsets);
    forward(entry, std::move(frame));
    return true;
  }
  const uint64_t seal = options_.offsets->commit(commit->offsets);
  if (options_.offsets->commitMode() == CommitMode::kSync) {
    // Held, in order, until a checkpoint holding it is durable: take one now.
    // If that checkpoint fails, the app hears a retriable error and upstream
    // hears nothing (it must never run ahead of what is durable).
    options_.offsets->checkpointNow(
        "commit",
        [this, alive, entry, frame, failed = std::move(commit->not_durable_body)](bool ok) mutable {
          if (alive.expired() || done_) return;
          if (ok) return forward(entry, std::move(frame));
          answerQueued(entry, failed);
        });
    return true;
  }
  // Answered now; the group offsets go upstream (with the app's own member id
  // and generation) only once the checkpoint holding them is durable, so
  // upstream never runs ahead of what a restart would restore.
  answerQueued(entry, commit->success_body);
  options_.offsets->whenDurable(
      seal, [this, alive, frame, prefix, group = commit->group, generation = commit->generation_id,
             member = commit->member_id](bool ok) mutable {
        if (alive.expired() || !ok || done_) return;
        auto mirror = std::make_shared<InFlight>(
            InFlight{next_internal_id_++, prefix.api_key, prefix.api_version, /*internal=*/true});
        mirror->group = group;
        mirror->generation = generation;
        mirror->member = member;
        kafka::storeInt32(frame.data() + kLengthPrefixBytes + 4, mirror->correlation_id);
        forward(mirror, std::move(frame));
      });
  return true;
}

// EndTxn: an abort forgets the transaction's offsets and passes; a commit
// seals them and is held until they are durable, so the transaction (and the
// group offsets inside it) never becomes visible upstream ahead of the
// checkpoint. If that checkpoint fails, the producer hears a retriable
// COORDINATOR_LOAD_IN_PROGRESS and retries.
bool Session::handleEndTxn(const kafka::RequestHeader& prefix, std::string_view body, Entry entry,
                           std::string frame) {
  auto end = decodeEndTxn(prefix.api_version, body);
  if (!end.isOk()) {
    fail(end.status().message(), prefix.api_key, prefix.api_version);
    return false;
  }
  auto retry_later = endTxnAnswer(prefix.api_version, kCoordinatorLoadInProgress);
  if (!retry_later.isOk()) {
    fail(retry_later.status().message(), prefix.api_key, prefix.api_version);
    return false;
  }
  std::weak_ptr<bool> alive = alive_;
  options_.offsets->endTxn(end->transactional_id, end->committed,
                           [this, alive, entry, frame = std::move(frame),
                            retry = std::move(*retry_later)](bool ok) mutable {
                             if (alive.expired() || done_) return;
                             if (ok) return forward(entry, std::move(frame));
                             answerQueued(entry, retry);
                           });
  return true;
}

void Session::noteMirrorAnswer(const InFlight& entry, const std::string& frame) {
  std::string_view rest = std::string_view(frame).substr(kLengthPrefixBytes);
  kafka::Reader r(rest);
  (void)kafka::decodeResponseHeader(r,
                                    kafka::responseHeaderVersion(entry.api_key, entry.api_version));
  auto errors = commitErrors(entry.api_key, entry.api_version, rest.substr(r.consumed()));
  if (r.ok()) noteStaleMember(entry, rest.substr(r.consumed()));
  if (!r.ok() || !errors.isOk() || *errors != 0) {
    TM_LOG(Warn, "offsets", "upstream refused the mirrored group commit")
        .kv("peer", peer_)
        .kv("failed_partitions",
            errors.isOk() ? std::to_string(*errors) : errors.status().message());
  } else {
    TM_LOG(Debug, "offsets", "group offsets mirrored upstream").kv("peer", peer_);
  }
}

void Session::forward(Entry entry, std::string frame) {
  forwardWhenIdle([this, entry = std::move(entry), frame = std::move(frame)] {
    if (done_) return;
    upstream_->write(frame);
    if (options_.metrics != nullptr) options_.metrics->toUpstream(frame.size());
    upstream_order_.push_back(entry);
  });
}

void Session::forwardWhenIdle(std::function<void()> fn) {
  at_boundary_.push_back(std::move(fn));
  if (request_left_ == 0) runIdleActions();
}

void Session::runIdleActions() {
  while (!at_boundary_.empty() && request_left_ == 0 && !done_) {
    auto fn = std::move(at_boundary_.front());
    at_boundary_.pop_front();
    fn();
  }
}

bool Session::pumpResponses() {
  while (!done_) {
    const size_t avail = upstream_->inputSize();
    if (response_left_ > 0) {
      if (avail == 0) break;
      size_t n = std::min(avail, response_left_);
      if (fetch_tap_ != nullptr) {
        n = fetch_tap_->pass(n, [this](char* dst, size_t k) { upstream_->peek(dst, k); });
      }
      upstream_->moveTo(*client_, n);
      if (options_.metrics != nullptr) options_.metrics->toClient(n);
      response_left_ -= n;
      upstream_->expectBytes(response_left_);
      if (response_left_ == 0) {
        if (fetch_tap_ != nullptr) reportWatermarks(*fetch_tap_);
        fetch_tap_.reset();
        inflight_.pop_front();
        flushAnswered();
      }
      continue;
    }
    if (avail < kLengthPrefixBytes + 4) break;
    char head[kLengthPrefixBytes + 4];
    upstream_->peek(head, sizeof(head));
    const int32_t length = kafka::loadInt32(head);
    const int32_t correlation_id = kafka::loadInt32(head + kLengthPrefixBytes);
    if (upstream_order_.empty()) {
      fail("upstream answered correlation id " + std::to_string(correlation_id) +
           " with no request waiting");
      return false;
    }
    if (upstream_order_.front()->correlation_id != correlation_id) {
      const auto& due = *upstream_order_.front();  // named in the log: the API whose answer is due
      fail("upstream answered correlation id " + std::to_string(correlation_id) + " while " +
               std::to_string(due.correlation_id) + " is due",
           due.api_key, due.api_version);
      return false;
    }
    Entry entry = upstream_order_.front();
    if (length < 4 || static_cast<uint64_t>(length) > options_.max_frame_bytes) {
      fail("response frame size " + std::to_string(length) + " outside 4.." +
               std::to_string(options_.max_frame_bytes),
           entry->api_key, entry->api_version);
      return false;
    }
    const size_t frame = kLengthPrefixBytes + static_cast<size_t>(length);
    const bool inspect = inspects(*entry);
    if (!entry->internal && !inflight_.empty() && inflight_.front() == entry && !inspect) {
      upstream_order_.pop_front();
      response_left_ = frame;  // stream it through as it arrives
      if (entry->api_key == kFetchKey && options_.watermarks != nullptr) {
        fetch_tap_ = std::make_unique<FetchWatermarkTap>(entry->api_version);
      }
      continue;
    }
    if (avail < frame) break;
    upstream_order_.pop_front();
    if (entry->internal) {
      noteMirrorAnswer(*entry, upstream_->take(frame));  // the sidecar's own: never forwarded
      continue;
    }
    if (!finishBufferedResponse(*entry, static_cast<uint32_t>(length))) return false;
    flushAnswered();
  }
  return !done_;
}

// One rule for which answers are buffered and decoded rather than streamed:
// those that can carry addresses or versions, and OffsetFetch when checkpointing.
bool Session::inspects(const InFlight& entry) const {
  return mustInspectResponse(entry.api_key, entry.api_version) ||
         (options_.offsets != nullptr &&
          (entry.api_key == kOffsetFetchKey || entry.api_key == kSyncGroupKey ||
           entry.api_key == kHeartbeatKey || entry.api_key == kOffsetCommitKey ||
           entry.api_key == kTxnOffsetCommitKey));
}

// Fencing: the coordinator says the application's member lost its partitions.
void Session::noteStaleMember(const InFlight& entry, std::string_view body) {
  auto stale = staleMemberError(entry.api_key, entry.api_version, body);
  if (stale.isOk() && *stale != 0 && !entry.group.empty()) {
    options_.offsets->fenced(entry.group, entry.member, entry.generation, *stale);
  }
}

bool Session::finishBufferedResponse(InFlight& entry, uint32_t length) {
  std::string frame = upstream_->take(kLengthPrefixBytes + length);
  if (entry.api_key == kFetchKey && options_.watermarks != nullptr) {
    FetchWatermarkTap tap(entry.api_version);
    tap.feed(frame);
    reportWatermarks(tap);
  }
  const bool offset_fetch = options_.offsets != nullptr && entry.api_key == kOffsetFetchKey;
  if (inspects(entry)) {
    std::string_view rest = std::string_view(frame).substr(kLengthPrefixBytes);
    kafka::Reader r(rest);
    (void)kafka::decodeResponseHeader(
        r, kafka::responseHeaderVersion(entry.api_key, entry.api_version));
    if (!r.ok()) {
      fail("malformed response header: " + r.error(), entry.api_key, entry.api_version);
      return false;
    }
    const size_t header_bytes = r.consumed();
    if (options_.offsets != nullptr && entry.api_key == kSyncGroupKey) {
      entry.response = std::move(frame);  // passed on unchanged, once the hooks are ready
      noteAssignment(entry, rest.substr(header_bytes));
      return true;
    }
    if (options_.offsets != nullptr &&
        (entry.api_key == kHeartbeatKey || entry.api_key == kOffsetCommitKey ||
         entry.api_key == kTxnOffsetCommitKey)) {
      noteStaleMember(entry, rest.substr(header_bytes));
      entry.response = std::move(frame);  // passed on unchanged
      entry.answered = true;
      return true;
    }
    auto rewritten = offset_fetch ? rewriteOffsetFetch(entry.api_version, rest.substr(header_bytes),
                                                       entry.group, *options_.offsets)
                                  : rewriteResponse(entry.api_key, entry.api_version,
                                                    rest.substr(header_bytes), ctx_);
    if (!rewritten.isOk()) {
      fail("cannot decode response: " + rewritten.status().message(), entry.api_key,
           entry.api_version);
      return false;
    }
    if (rewritten->has_value()) {
      std::string body(rest.substr(0, header_bytes));
      body.append(**rewritten);
      frame = lengthPrefixed(body);
    }
  }
  entry.response = std::move(frame);
  entry.answered = true;
  return true;
}

void Session::noteAssignment(InFlight& entry, std::string_view body) {
  auto assigned = decodeSyncGroupAssignment(entry.api_version, body);
  if (!assigned.isOk() || !*assigned) {
    if (!assigned.isOk()) {
      TM_LOG(Warn, "proxy", "cannot read a SyncGroup answer's assignment")
          .kv("group", entry.group)
          .kv("error", assigned.status().message());
    }
    entry.answered = true;
    return;
  }
  // Held until the assigned partitions' checkpoints are loaded, so the
  // application's assignment callback finds them. The entry is owned by
  // inflight_ until answered; the session may go meanwhile.
  std::weak_ptr<bool> alive = alive_;
  InFlight* held = &entry;
  options_.offsets->assigned(entry.group, entry.member, **assigned, [this, alive, held](bool ok) {
    if (alive.expired() || done_) return;
    if (!ok) {
      auto rejoin = syncGroupError(held->api_version, kRebalanceInProgress);
      if (!rejoin.isOk()) return fail(rejoin.status().message(), held->api_key, held->api_version);
      held->response =
          responseFrame(held->correlation_id, held->api_key, held->api_version, *rejoin);
    }
    held->answered = true;
    flushAnswered();
  });
}

void Session::answerLocally(int32_t correlation_id, int16_t key, int16_t version,
                            std::string body) {
  auto entry = std::make_shared<InFlight>(InFlight{correlation_id, key, version});
  inflight_.push_back(entry);
  answerQueued(entry, body);
}

void Session::answerQueued(const Entry& entry, std::string_view body) {
  entry->response = responseFrame(entry->correlation_id, entry->api_key, entry->api_version, body);
  entry->answered = true;
  flushAnswered();
}

void Session::flushAnswered() {
  // While a response streams through, the head's answer is still arriving.
  if (response_left_ > 0) return;
  while (!inflight_.empty() && inflight_.front()->answered) {
    client_->write(inflight_.front()->response);
    if (options_.metrics != nullptr) options_.metrics->toClient(inflight_.front()->response.size());
    inflight_.pop_front();
  }
}

void Session::applyBackpressure() {
  if (done_) return;
  if (upstream_->outputSize() > kHighWater) client_->pauseReading();
  if (client_->outputSize() > kHighWater) upstream_->pauseReading();
}

void Session::fail(const std::string& what, int16_t api_key, int16_t api_version) {
  if (options_.metrics != nullptr) options_.metrics->rejected(api_key);
  TM_LOG(Warn, "proxy", "closing connection")
      .kv("peer", peer_)
      .kv("listener", options_.listener)
      .kv("api_key", api_key)
      .kv("api_version", api_version)
      .kv("reason", what);
  finish(what);
}

void Session::finish(const std::string& reason) {
  if (done_) return;
  done_ = true;
  alive_.reset();  // callbacks still pending for this session become no-ops
  connect_timer_->cancel();
  TM_LOG(Debug, "proxy", "connection closed").kv("peer", peer_).kv("reason", reason);
  if (client_) client_->close();
  if (upstream_) upstream_->close();
  if (on_closed_) on_closed_(this);
}

void Session::reportWatermarks(const FetchWatermarkTap& tap) {
  for (const auto& mark : tap.watermarks()) {
    std::optional<std::string> topic = mark.topic;
    if (topic->empty()) topic = ctx_.topics.name(mark.topic_id);  // v13+: by id
    if (!topic || topic->empty()) continue;
    options_.watermarks->observed(*topic, mark.partition, mark.high_watermark);
  }
}

}  // namespace tidemark::proxy
