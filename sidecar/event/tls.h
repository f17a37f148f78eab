#pragma once

// Client-side TLS for upstream connections: OpenSSL behind one seam. One
// TlsContext (certificates loaded once at start) makes an SSL object per
// connection with SNI and host-name verification set. Loop thread only.

#include <memory>
#include <string>

#include "sidecar/base/status.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace tidemark::event {

struct TlsOptions {
  std::string ca_file;    // empty: system trust store
  std::string cert_file;  // client certificate (mutual TLS), with key_file
  std::string key_file;
  std::string server_name;  // empty: the host being dialled
  bool verify = true;
};

class TlsContext {
 public:
  static StatusOr<std::unique_ptr<TlsContext>> create(const TlsOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A new client SSL for a connection to `host`; the caller's bufferevent owns it.
  SSL* newClient(const std::string& host) const;

 private:
  TlsContext(SSL_CTX* ctx, TlsOptions options) : ctx_(ctx), options_(std::move(options)) {}
  SSL_CTX* ctx_;
  TlsOptions options_;
};

// The last OpenSSL error queued on this thread, as text (and clears the queue).
std::string lastTlsError();

}  // namespace tidemark::event
