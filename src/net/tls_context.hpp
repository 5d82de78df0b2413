// OpenSSL client setup for upstream connections (private to net/).
#pragma once

#include <memory>
#include <string>

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>

#include "sluice/core/error.hpp"
#include "sluice/net/tls.hpp"  // describe_tls_failure

namespace sluice::net {

// TLS 1.2+, the system CA store, plus `ca_file` (PEM) when not empty; peers
// are verified. Throws std::runtime_error naming the file when it cannot be loaded.
std::unique_ptr<boost::asio::ssl::context> make_client_tls_context(const std::string& ca_file);

// Per connection: SNI (for names) and the name or address the certificate
// must match, checked by OpenSSL during the handshake.
Status prepare_tls_session(SSL* ssl, const std::string& host, bool host_is_ip);

}  // namespace sluice::net
