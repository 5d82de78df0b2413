// OpenSSL client setup for outbound connections (see tls_client.hpp).
#include "sluice/io/tls_client.hpp"

#include <stdexcept>

#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

namespace sluice::io {

std::unique_ptr<boost::asio::ssl::context> make_client_tls_context(const std::string& ca_file) {
  namespace ssl = boost::asio::ssl;
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  ctx->set_default_verify_paths(ec);  // a missing system store is not fatal when ca_file is given
  if (!ca_file.empty()) {
    ctx->load_verify_file(ca_file, ec);
    if (ec) throw std::runtime_error("cannot load CA file '" + ca_file + "': " + ec.message());
  }
  return ctx;
}

Status prepare_tls_session(SSL* ssl, const std::string& host) {
  boost::system::error_code not_ip;
  boost::asio::ip::make_address(host, not_ip);
  if (!not_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1)
      return make_error(errc::internal, "cannot set the expected IP address for TLS verification");
    return Ok{};
  }
  // SNI lets virtual-hosted upstreams pick the right certificate.
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 || SSL_set1_host(ssl, host.c_str()) != 1)
    return make_error(errc::internal, "cannot set the TLS server name");
  return Ok{};
}

std::string describe_tls_failure(SSL* ssl, const std::string& fallback) {
  const long result = SSL_get_verify_result(ssl);
  if (result != X509_V_OK) return std::string("certificate verification failed: ") + X509_verify_cert_error_string(result);
  return fallback;
}

}  // namespace sluice::io
