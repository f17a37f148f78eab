#pragma once

// A TCP connection on an EventLoop. Bytes arrive into an input queue the owner
// inspects and consumes; bytes to send go into an output queue. Moving bytes
// from one stream's input to another's output hands over buffer chunks
// without copying them.
//
// Two transports sit behind this one interface: plain sockets run on the
// proxy's own non-blocking I/O (plain_stream.cc: large reads, writes gathered
// per loop turn, no readiness changes while the socket keeps up); TLS runs on
// libevent's OpenSSL bufferevent (tls_stream.cc).
//
// Contract:
// - Callbacks run on the loop thread. A stream must not be destroyed from
//   inside its own callback; owners defer destruction (EventLoop::post).
// - Output written before an outbound connect completes is sent once it does.
// - Written bytes leave in order, on a later turn of the loop (never inside
//   write()), so several writes in one turn become one system call.
// - on_closed fires at most once, after every byte already received has been
//   offered through on_data; close() never fires it.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "sidecar/event/event_loop.h"
#include "sidecar/event/tls.h"

struct evbuffer;
struct evdns_base;

namespace tidemark::event {

class TcpStream {
 public:
  struct Callbacks {
    std::function<void()> on_connected;          // outbound connect finished
    std::function<void()> on_data;               // input grew
    std::function<void()> on_drained;            // output fell to the low mark
    std::function<void(std::string)> on_closed;  // peer closed or error; reason
  };

  // Takes ownership of an accepted, connected socket.
  static std::unique_ptr<TcpStream> adopt(EventLoop& loop, int fd, std::string peer,
                                          Callbacks callbacks);
  // Starts connecting to host:port (names resolved asynchronously through
  // `dns`), over TLS when `tls` is given. A connect that fails at once calls
  // on_closed before this returns.
  static std::unique_ptr<TcpStream> connect(EventLoop& loop, evdns_base* dns,
                                            const std::string& host, uint16_t port,
                                            Callbacks callbacks, const TlsContext* tls = nullptr);
  virtual ~TcpStream() = default;
  TcpStream(const TcpStream&) = delete;
  TcpStream& operator=(const TcpStream&) = delete;

  const std::string& peer() const { return peer_; }

  // ---- input
  size_t inputSize() const;
  // Copies up to `n` leading input bytes into `dst` without consuming them.
  size_t peek(char* dst, size_t n) const;
  // Removes `n` input bytes into a contiguous string.
  std::string take(size_t n);
  // Removes all input, appending it to `dst`.
  void takeAllInto(std::string& dst);
  // Moves `n` input bytes to the end of `dst`'s output without copying data.
  void moveTo(TcpStream& dst, size_t n);
  // A hint: the owner will consume the first `n` input bytes as one unit (the
  // rest of a frame it streams through). Reads then stop at that unit's end,
  // so moveTo hands over whole buffers instead of copying a shared one's
  // part. 0 clears it. Transports may ignore it.
  virtual void expectBytes(size_t n) { (void)n; }
  virtual void pauseReading() = 0;
  virtual void resumeReading() = 0;

  // ---- output
  void write(std::string_view bytes);
  size_t outputSize() const;
  // on_drained fires when output falls to `bytes` or below.
  virtual void setDrainedMark(size_t bytes) = 0;

  // Stops reading; closes once every queued output byte is sent.
  virtual void closeAfterFlush() = 0;
  // Closes now, dropping queued output; on_closed is not called.
  void close() { shut("closed", /*notify=*/false); }
  bool closed() const { return closed_; }

 protected:
  TcpStream(std::string peer, Callbacks callbacks)
      : peer_(std::move(peer)), callbacks_(std::move(callbacks)) {}

  virtual evbuffer* input() const = 0;
  virtual evbuffer* output() const = 0;
  // Bytes were appended to output(): schedule sending them.
  virtual void outputAdded() = 0;
  // Closes the socket; tells the owner through on_closed when `notify`.
  virtual void shut(std::string reason, bool notify = true) = 0;

  std::string peer_;
  Callbacks callbacks_;
  bool closing_ = false;
  bool closed_ = false;
};

// One asynchronous DNS resolver per loop, for TcpStream::connect.
class DnsResolver {
 public:
  explicit DnsResolver(EventLoop& loop);
  ~DnsResolver();
  evdns_base* base() { return dns_; }

 private:
  evdns_base* dns_;
};

}  // namespace tidemark::event
