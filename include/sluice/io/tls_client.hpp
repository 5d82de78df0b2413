// OpenSSL client setup shared by every outbound TLS connection: the upstream
// HTTP client (net) and the Redis client (redis, rediss://).
#pragma once

#include <memory>
#include <string>

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

#include "sluice/core/error.hpp"

namespace sluice::io {

// TLS 1.2+, the system CA store, plus `ca_file` (PEM) when not empty; peers
// are verified. Throws std::runtime_error naming the file when it cannot be loaded.
std::unique_ptr<boost::asio::ssl::context> make_client_tls_context(const std::string& ca_file);

// Per connection: SNI (for names) and the name or address the certificate
// must match (`host` is an IP address or a name), checked by OpenSSL during
// the handshake.
Status prepare_tls_session(SSL* ssl, const std::string& host);

// A handshake failure in words: the certificate verification result when
// that was the cause ("hostname mismatch"), else `fallback`.
std::string describe_tls_failure(SSL* ssl, const std::string& fallback);

}  // namespace sluice::io
