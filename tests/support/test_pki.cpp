// Test certificates with OpenSSL (contracts in test_pki.hpp).
#include "support/test_pki.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <utility>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace sluice::test {
namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("test PKI: " + what); }

template <class T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Freer<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Freer<BIO, BIO_free_all>>;

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

BioPtr bio_of(const std::string& text) {
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) fail("BIO");
  return bio;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) fail("extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

std::string serial_hex(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = bn ? BN_bn2hex(bn) : nullptr;
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

}  // namespace

Pem make_certificate(const CertificateSpec& spec, const Pem* issuer) {
  KeyPtr key(EVP_EC_gen("P-256"));
  CertPtr cert(X509_new());
  if (!key || !cert) fail("key generation");
  KeyPtr issuer_key;
  CertPtr issuer_cert;
  if (issuer) {
    issuer_key.reset(PEM_read_bio_PrivateKey(bio_of(issuer->key).get(), nullptr, nullptr, nullptr));
    issuer_cert.reset(PEM_read_bio_X509(bio_of(issuer->certificate).get(), nullptr, nullptr, nullptr));
    if (!issuer_key || !issuer_cert) fail("issuer PEM");
  }
  std::uint64_t serial = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof serial);
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial >> 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0);
  X509* signer = issuer ? issuer_cert.get() : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));

  add_extension(cert.get(), signer, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_extension(cert.get(), signer, NID_key_usage,
                spec.ca ? "critical,digitalSignature,keyCertSign" : "critical,digitalSignature");
  std::string usage;
  if (spec.server) usage = "serverAuth";
  if (spec.client) usage += usage.empty() ? "clientAuth" : ",clientAuth";
  if (!usage.empty()) add_extension(cert.get(), signer, NID_ext_key_usage, usage);
  add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (issuer) add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid");
  // DNS:localhost only: tests rely on https://127.0.0.1 failing verification.
  if (spec.server) add_extension(cert.get(), signer, NID_subject_alt_name, "DNS:localhost");
  if (X509_sign(cert.get(), issuer ? issuer_key.get() : key.get(), EVP_sha256()) == 0) fail("sign");

  BioPtr key_bio(BIO_new(BIO_s_mem()));
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !cert_bio ||
      !PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) ||
      !PEM_write_bio_X509(cert_bio.get(), cert.get())) {
    fail("PEM encoding");
  }
  return {bio_string(key_bio.get()), bio_string(cert_bio.get()), serial_hex(cert.get()), "CN=" + spec.common_name};
}

TestPki::TestPki(const std::string& ca_name) {
  std::string pattern = (std::filesystem::temp_directory_path() / "sluice-pki-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) fail("cannot create a temporary directory");
  dir_ = pattern;
  ca_ = make_certificate({.common_name = ca_name, .ca = true});
  ca_file_ = write("ca.pem", ca_.certificate);
}

TestPki::~TestPki() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Pem TestPki::issue(const CertificateSpec& spec) const { return make_certificate(spec, &ca_); }

TestPki::Files TestPki::issue_files(const std::string& name, const CertificateSpec& spec) const {
  return write_files(name, issue(spec));
}

TestPki::Files TestPki::write_files(const std::string& name, const Pem& pem) const {
  return {write(name + ".pem", pem.certificate), write(name + ".key", pem.key), pem};
}

std::string TestPki::write(const std::string& name, const std::string& contents) const {
  const std::filesystem::path path = std::filesystem::path(dir_) / name;
  const std::filesystem::path next = path.string() + ".next";
  {
    std::ofstream out(next, std::ios::binary | std::ios::trunc);
    out << contents;
    if (!out) fail("cannot write " + next.string());
  }
  std::filesystem::rename(next, path);
  return path.string();
}

}  // namespace sluice::test
