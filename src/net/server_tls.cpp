// The front door's OpenSSL context from server.tls (contract in
// sluice/net/tls.hpp).
#include "sluice/net/tls.hpp"

#include <ctime>
#include <utility>

#include <boost/asio/ssl/context.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace sluice::net {

namespace ssl = boost::asio::ssl;

namespace {

template <class T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Freer<BIO, BIO_free_all>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY, EVP_PKEY_free>>;

// The first error OpenSSL queued (the cause; later ones say where it
// surfaced), in its own words; the queue is left empty.
std::string openssl_reason() {
  const unsigned long first = ERR_get_error();
  ERR_clear_error();
  const char* reason = first ? ERR_reason_error_string(first) : nullptr;
  return reason ? reason : "unknown error";
}

std::string quoted(const std::string& path) { return "'" + path + "'"; }

// OpenSSL's default would prompt on the terminal for a pass phrase, which a
// daemon cannot answer; this one notes that one was wanted and declines.
int no_pass_phrase(char*, int, int, void* asked) {
  *static_cast<bool*>(asked) = true;
  return 0;
}

// ALPN: the front door speaks HTTP/1.1 only. A client that offers it gets it
// confirmed; one that offers only other protocols goes on without ALPN.
int select_http11(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* offered,
                  unsigned int offered_len, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_len, kHttp11, sizeof kHttp11, offered, offered_len) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

CertificateSummary summarize(X509* leaf) {
  CertificateSummary out;
  if (!leaf) return out;
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio && X509_NAME_print_ex(bio.get(), X509_get_subject_name(leaf), 0, XN_FLAG_RFC2253) >= 0)
    out.subject = bio_text(bio.get());
  if (BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr)) {
    if (char* hex = BN_bn2hex(serial)) {
      out.serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(serial);
  }
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &tm) == 1) {
    char text[32];
    if (std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0) out.not_after = text;
  }
  return out;
}

// The private key in `path`, or null with `why` set.
KeyPtr read_private_key(const std::string& path, std::string& why) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    why = openssl_reason();
    return nullptr;
  }
  bool asked = false;
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_pass_phrase, &asked));
  if (key) return key;
  // OpenSSL 3 says "unsupported" for a file without any key in it.
  const unsigned long first = ERR_peek_error();
  const bool no_key = ERR_GET_LIB(first) == ERR_LIB_OSSL_DECODER || ERR_GET_REASON(first) == PEM_R_NO_START_LINE;
  why = asked    ? "the key is encrypted; give sluice an unencrypted key (it cannot ask for a pass phrase)"
        : no_key ? "no private key found in it"
                 : openssl_reason();
  ERR_clear_error();
  return nullptr;
}

}  // namespace

ServerTls load_server_tls(const ServerTlsConfig& config) {
  ServerTls out;
  const auto fail = [&out](std::string key, std::string message) {
    out.context.reset();
    out.problem = ConfigProblem{"server.tls." + std::move(key), 0, 0, std::move(message)};
    return std::move(out);
  };
  ERR_clear_error();
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, config.min_version == TlsVersion::v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Resuming a session needs an id context once client certificates are verified.
  static const unsigned char kSessionContext[] = "sluice";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_alpn_select_cb(native, select_http11, nullptr);

  if (SSL_CTX_use_certificate_chain_file(native, config.certificate.c_str()) != 1)
    return fail("certificate",
                "cannot load a PEM certificate chain from " + quoted(config.certificate) + ": " + openssl_reason());
  X509* leaf = SSL_CTX_get0_certificate(native);

  std::string why;
  const KeyPtr key = read_private_key(config.key, why);
  if (!key) return fail("key", "cannot load a PEM private key from " + quoted(config.key) + ": " + why);
  if (X509_check_private_key(leaf, key.get()) != 1) {
    ERR_clear_error();
    return fail("key", "the key in " + quoted(config.key) + " does not match the certificate in " +
                           quoted(config.certificate) + " (server.tls.certificate)");
  }
  if (SSL_CTX_use_PrivateKey(native, key.get()) != 1)
    return fail("key", "cannot use the key in " + quoted(config.key) + ": " + openssl_reason());

  if (!config.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(native, config.client_ca.c_str(), nullptr) != 1)
      return fail("client_ca",
                  "cannot load PEM CA certificates from " + quoted(config.client_ca) + ": " + openssl_reason());
    // The CertificateRequest names these CAs, so a client holding several
    // certificates can pick the right one.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca.c_str());
    if (!names) {
      ERR_clear_error();
      return fail("client_ca", "no CA certificate found in " + quoted(config.client_ca));
    }
    SSL_CTX_set_client_CA_list(native, names);
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  out.certificate = summarize(leaf);
  out.context = std::move(context);
  return out;
}

}  // namespace sluice::net
