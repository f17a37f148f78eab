#include "sidecar/event/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

namespace tidemark::event {

std::string lastTlsError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

StatusOr<std::unique_ptr<TlsContext>> TlsContext::create(const TlsOptions& options) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return internalError("TLS: " + lastTlsError());
  auto fail = [&](const std::string& what) -> Status {
    SSL_CTX_free(ctx);
    return invalidArgument("TLS: " + what + ": " + lastTlsError());
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (options.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) return fail("cannot load the system CAs");
  } else if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
    return fail("cannot load ca_file " + options.ca_file);
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
      return fail("cannot load cert_file " + options.cert_file);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return fail("cannot load key_file " + options.key_file);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) return fail("key_file does not match cert_file");
  }
  SSL_CTX_set_verify(ctx, options.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  return std::unique_ptr<TlsContext>(new TlsContext(ctx, options));
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

SSL* TlsContext::newClient(const std::string& host) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return nullptr;
  const std::string& name = options_.server_name.empty() ? host : options_.server_name;
  unsigned char addr[16];
  const bool is_ip =
      inet_pton(AF_INET, name.c_str(), addr) == 1 || inet_pton(AF_INET6, name.c_str(), addr) == 1;
  if (is_ip) {
    // No SNI for addresses (RFC 6066); check the certificate's IP SANs instead.
    if (options_.verify) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    if (options_.verify) SSL_set1_host(ssl, name.c_str());
  }
  return ssl;
}

}  // namespace tidemark::event
