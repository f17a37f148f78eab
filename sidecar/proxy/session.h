#pragma once

// One application connection through the proxy: the client stream, its
// upstream broker stream, and the Kafka framing between them.
//
// Requests flow client → upstream as opaque bytes: only the 4-byte length and
// the 8-byte header prefix are read (and, for Produce, just enough to see
// acks=0, which gets no response). Responses flow back in request order; those
// that can carry broker addresses or versions (see rewriter.h) are buffered
// whole, decoded, rewritten and re-encoded; all others stream through as they
// arrive, chunks moved between buffers without copying. Fetch answers are
// read in passing for their high watermarks (fetch_watermarks.h): only the
// partition headers are copied, never the records.
//
// Every request that expects an answer has an entry in a FIFO. An entry is
// answered by upstream or by the sidecar itself (local answers); the client
// always receives answers in FIFO order, so a held or local answer can never
// overtake, or be overtaken by, an upstream one.
//
// Bounded memory: at most one frame (max_frame_bytes) is buffered per
// direction, and reading from a side stops while the other side's output
// holds more than kHighWater bytes.
//
// Loop thread only. The owner (Proxy) destroys a session after it reports
// closed, from a posted task, never inside the session's own callbacks.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "protocol/kafka/header.h"
#include "sidecar/event/event_loop.h"
#include "sidecar/event/tcp_stream.h"
#include "sidecar/proxy/fetch_watermarks.h"
#include "sidecar/proxy/offset_hooks.h"
#include "sidecar/proxy/proxy_metrics.h"
#include "sidecar/proxy/rewriter.h"

namespace tidemark::proxy {

struct SessionOptions {
  size_t max_frame_bytes = 100 << 20;
  const event::TlsContext* upstream_tls = nullptr;  // TLS to upstream, when set
  std::string listener;                             // "bootstrap" or "broker-N", for logs
  OffsetHooks* offsets = nullptr;       // checkpointing; nullptr: offsets pass through untouched
  ProxyMetrics* metrics = nullptr;      // counters; nullptr: none
  WatermarkSink* watermarks = nullptr;  // Fetch answers' high watermarks; nullptr: not read
  // The upstream connection not established by then closes the session.
  std::chrono::milliseconds connect_timeout{10000};
};

class Session {
 public:
  static constexpr size_t kHighWater = 4 << 20;
  static constexpr size_t kLowWater = 1 << 20;

  // Connects upstream at once; `on_closed` runs (once) when either side ends.
  Session(event::EventLoop& loop, evdns_base* dns, int client_fd, std::string peer,
          const UpstreamAddress& upstream, SessionOptions options, RewriteContext ctx,
          std::function<void(Session*)> on_closed);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string& peer() const { return peer_; }

 private:
  // A request whose answer is due. Requests the sidecar sends on its own
  // (internal) are in upstream_order_ only; their answers never reach the client.
  struct InFlight {
    int32_t correlation_id;
    int16_t api_key;
    int16_t api_version;
    bool internal = false;
    bool answered = false;    // `response` holds the whole frame
    std::string response;     // length-prefixed frame, when buffered
    std::string group;        // OffsetFetch v0-7, SyncGroup: the group it is about
    int32_t generation = -1;  // group requests: the generation they were sent in
    std::string member;       // group requests: the member they came from
  };
  using Entry = std::shared_ptr<InFlight>;

  void onClientData();
  // A SyncGroup answer: tells the hooks what the application was assigned.
  // May answer later (the hooks load the assigned partitions first).
  void noteAssignment(InFlight& entry, std::string_view body);
  void noteStaleMember(const InFlight& entry, std::string_view body);
  void onUpstreamData();
  void onClientClosed(const std::string& reason);
  void onUpstreamClosed(const std::string& reason);

  // Each returns false once the session has failed.
  bool pumpRequests();
  bool pumpResponses();
  bool startRequest(const kafka::RequestHeader& h, uint32_t length);
  std::optional<int16_t> produceAcks(const kafka::RequestHeader& h, size_t frame, size_t avail);
  bool finishBufferedResponse(InFlight& entry, uint32_t length);
  void answerLocally(int32_t correlation_id, int16_t key, int16_t version, std::string body);
  // Requests the proxy must read whole before deciding what to do.
  bool handleGroupRequest(const kafka::RequestHeader& h, uint32_t length);
  bool handleEndTxn(const kafka::RequestHeader& h, std::string_view body, Entry entry,
                    std::string frame);
  // Answers a queued request with the sidecar's own response body.
  void answerQueued(const Entry& entry, std::string_view body);
  void forward(Entry entry, std::string frame);  // at a request frame boundary
  bool inspects(const InFlight& entry) const;
  void noteMirrorAnswer(const InFlight& entry, const std::string& frame);
  void forwardWhenIdle(std::function<void()> fn);
  void runIdleActions();
  void flushAnswered();
  void applyBackpressure();
  void reportWatermarks(const FetchWatermarkTap& tap);

  void fail(const std::string& what, int16_t api_key = -1, int16_t api_version = -1);
  void finish(const std::string& reason);

  event::EventLoop& loop_;
  std::string peer_;
  SessionOptions options_;
  RewriteContext ctx_;
  std::function<void(Session*)> on_closed_;
  std::unique_ptr<event::TcpStream> client_;
  std::unique_ptr<event::TcpStream> upstream_;
  std::unique_ptr<event::Timer> connect_timer_;  // until upstream_ is connected

  std::deque<Entry> inflight_;                     // client order
  std::deque<Entry> upstream_order_;               // the order upstream will answer in
  std::deque<std::function<void()>> at_boundary_;  // sends waiting for a frame boundary
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  int32_t next_internal_id_ = 0x7e000000;
  size_t request_left_ = 0;   // bytes of the current request still to forward
  size_t response_left_ = 0;  // bytes of the current streamed response still to forward
  std::unique_ptr<FetchWatermarkTap> fetch_tap_;  // reading the streamed Fetch answer
  bool done_ = false;
};

}  // namespace tidemark::proxy
