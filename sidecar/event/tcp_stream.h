#pragma once

// A TCP connection on an EventLoop: libevent's bufferevent behind one seam.
// Bytes arrive into an input queue the owner inspects and consumes; bytes to
// send go into an output queue. Moving bytes from one stream's input to
// another's output hands over buffer chunks without copying them.
//
// Callbacks run on the loop thread. A stream must not be destroyed from inside
// its own callback; owners defer destruction (EventLoop::post).

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "sidecar/event/event_loop.h"
#include "sidecar/event/tls.h"

struct bufferevent;
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
  ~TcpStream();
  TcpStream(const TcpStream&) = delete;
  TcpStream& operator=(const TcpStream&) = delete;

  const std::string& peer() const { return peer_; }

  // ---- input
  size_t inputSize() const;
  // Copies up to `n` leading input bytes into `dst` without consuming them.
  size_t peek(char* dst, size_t n) const;
  // Removes `n` input bytes into a contiguous string.
  std::string take(size_t n);
  // Moves `n` input bytes to the end of `dst`'s output without copying data.
  void moveTo(TcpStream& dst, size_t n);
  void pauseReading();
  void resumeReading();

  // ---- output
  void write(std::string_view bytes);
  size_t outputSize() const;
  // on_drained fires when output falls to `bytes` or below.
  void setDrainedMark(size_t bytes);

  // Stops reading; closes once every queued output byte is sent.
  void closeAfterFlush();
  // Closes now, dropping queued output; on_closed is not called.
  void close();
  bool closed() const { return closed_; }

 private:
  TcpStream(bufferevent* bev, std::string peer, Callbacks callbacks);
  static void onRead(bufferevent*, void* self);
  bool drainSocket();
  static void onWrite(bufferevent*, void* self);
  static void onEvent(bufferevent*, short what, void* self);
  void shut(std::string reason, bool notify = true);

  bufferevent* bev_;
  std::string peer_;
  Callbacks callbacks_;
  bool tls_ = false;
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
