// The TLS pieces other folders use: the front door's context, built from
// server.tls (the certificate chain and key it presents, the oldest protocol
// version it accepts, and with client_ca the client certificates it requires),
// and the words for a failed handshake. The upstream client's own TLS setup
// is io's (io/tls_client.hpp).
//
// The server context is built at start, by `sluice --check-config`, and again
// on each reload; a context in use is never changed, so connections keep the
// one they handshook with while new ones get the newest.
#pragma once

#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "sluice/core/config.hpp"
#include "sluice/io/tls_client.hpp"

namespace boost::asio::ssl {
class context;
}

namespace sluice::net {

// What a log line may say about the leaf certificate: never key material.
struct CertificateSummary {
  std::string subject;    // e.g. "CN=gateway.internal,O=Example"
  std::string serial;     // upper-case hex
  std::string not_after;  // e.g. "Dec 31 23:59:59 2027 GMT"
};

struct ServerTls {
  std::shared_ptr<boost::asio::ssl::context> context;  // null when loading failed
  CertificateSummary certificate;                       // set with context
  // When context is null: which key's file is at fault ("server.tls.key")
  // and why, naming the file but quoting nothing of its contents. No line
  // number: the config loader has checked what the document says.
  ConfigProblem problem;
};

// Reads the files named in `config` and builds a server context: TLS
// >= min_version, the chain and key (which must match), client certificates
// required and verified against client_ca when set. Never throws; never
// prompts for a pass phrase (an encrypted key is a problem). Blocking file
// I/O: call at start or from a signal handler on the loop, not per request.
ServerTls load_server_tls(const ServerTlsConfig& config);

// A handshake failure in words: the certificate verification result when
// that was the cause ("hostname mismatch"; on a server, the client's
// certificate), else `fallback`. Defined in io, shared with the clients.
using io::describe_tls_failure;

}  // namespace sluice::net
