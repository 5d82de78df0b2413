// load_server_tls: what it builds from server.tls, and how each unusable file
// is reported (the key path, the file, OpenSSL's reason; never file contents).
#include <gtest/gtest.h>

#include <boost/asio/ssl/context.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sluice/net/tls.hpp"
#include "support/test_pki.hpp"

namespace sluice::net {
namespace {

using test::TestPki;

class ServerTlsLoad : public ::testing::Test {
 protected:
  TestPki pki;
  TestPki::Files server = pki.issue_files("server", {.common_name = "localhost", .server = true});

  ServerTlsConfig config() const { return {.certificate = server.certificate, .key = server.key}; }

  // The problem a config must produce, checked to quote no key material.
  ConfigProblem problem_of(const ServerTlsConfig& c) {
    ServerTls tls = load_server_tls(c);
    EXPECT_EQ(tls.context, nullptr);
    EXPECT_EQ(tls.problem.message.find("PRIVATE"), std::string::npos) << tls.problem.message;
    EXPECT_EQ(tls.problem.line, 0);
    return tls.problem;
  }
};

TEST_F(ServerTlsLoad, AMatchingPairLoadsAndIsSummarized) {
  const ServerTls tls = load_server_tls(config());
  ASSERT_NE(tls.context, nullptr) << tls.problem.key_path << ": " << tls.problem.message;
  EXPECT_EQ(tls.certificate.subject, "CN=localhost");
  EXPECT_EQ(tls.certificate.serial, server.pem.serial);
  EXPECT_EQ(tls.certificate.not_after.size(), 20u) << tls.certificate.not_after;  // 2026-12-07T10:00:00Z
  SSL_CTX* native = tls.context->native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(native), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(native), SSL_VERIFY_NONE) << "no client certificates without client_ca";
}

TEST_F(ServerTlsLoad, MinimumVersionAndClientCertificates) {
  ServerTlsConfig c = config();
  c.min_version = TlsVersion::v1_3;
  c.client_ca = pki.ca_file();
  const ServerTls tls = load_server_tls(c);
  ASSERT_NE(tls.context, nullptr) << tls.problem.message;
  SSL_CTX* native = tls.context->native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(native), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(native), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  ASSERT_NE(SSL_CTX_get_client_CA_list(native), nullptr);
  EXPECT_EQ(sk_X509_NAME_num(SSL_CTX_get_client_CA_list(native)), 1);
}

TEST_F(ServerTlsLoad, AKeyOfAnotherCertificateIsRefused) {
  const auto other = pki.issue_files("other", {.common_name = "localhost", .server = true});
  ServerTlsConfig c = config();
  c.key = other.key;
  const ConfigProblem problem = problem_of(c);
  EXPECT_EQ(problem.key_path, "server.tls.key");
  EXPECT_EQ(problem.message, "the key in '" + other.key + "' does not match the certificate in '" +
                                 server.certificate + "' (server.tls.certificate)");
}

TEST_F(ServerTlsLoad, FilesWithTheWrongContentsNameTheirKey) {
  const std::string garbage = pki.write("garbage.pem", "this is not PEM\n");
  ServerTlsConfig c = config();
  c.certificate = garbage;
  ConfigProblem problem = problem_of(c);
  EXPECT_EQ(problem.key_path, "server.tls.certificate");
  EXPECT_EQ(problem.message, "cannot load a PEM certificate chain from '" + garbage + "': no start line");

  c = config();
  c.key = server.certificate;  // the paths swapped by mistake
  problem = problem_of(c);
  EXPECT_EQ(problem.key_path, "server.tls.key");
  EXPECT_EQ(problem.message, "cannot load a PEM private key from '" + server.certificate + "': no private key found in it");

  c = config();
  c.client_ca = garbage;
  problem = problem_of(c);
  EXPECT_EQ(problem.key_path, "server.tls.client_ca");
  EXPECT_NE(problem.message.find("cannot load PEM CA certificates from '" + garbage + "'"), std::string::npos)
      << problem.message;
}

TEST_F(ServerTlsLoad, AnEncryptedKeyIsRefusedWithoutPrompting) {
  // The same key, encrypted with a pass phrase.
  BIO* in = BIO_new_mem_buf(server.pem.key.data(), static_cast<int>(server.pem.key.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  char pass[] = "secret";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(out, key, EVP_aes_256_cbc(), pass, 6, nullptr, nullptr), 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  const std::string encrypted = pki.write("encrypted.key", std::string(data, static_cast<std::size_t>(size)));
  BIO_free(out);
  EVP_PKEY_free(key);
  BIO_free(in);

  ServerTlsConfig c = config();
  c.key = encrypted;
  const ConfigProblem problem = problem_of(c);
  EXPECT_EQ(problem.key_path, "server.tls.key");
  EXPECT_EQ(problem.message, "cannot load a PEM private key from '" + encrypted +
                                 "': the key is encrypted; give sluice an unencrypted key (it cannot ask for a "
                                 "pass phrase)");
}

}  // namespace
}  // namespace sluice::net
