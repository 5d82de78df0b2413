// The TLS front door as the daemon runs it: the startup line says TLS (and
// mTLS); SIGHUP (a configuration reload) rotates the certificate for new
// connections while open ones keep theirs, and keeps the old one when the
// new files are unusable;
// --check-config loads the files.
#include <gtest/gtest.h>

#include <csignal>
#include <string>

#include "daemon_process.hpp"
#include "gateway_fixture.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kNotFound = "";

class DaemonTls : public ::testing::Test {
 protected:
  TestPki pki;
  TestPki::Files server = pki.issue_files("server", {.common_name = "localhost", .server = true});

  // A config file for the daemon: a mock provider behind TLS.
  std::string write_config(const std::string& tls_keys) const {
    return pki.write("sluice.yaml",
                     "server:\n"
                     "  listen: \"127.0.0.1:0\"\n"
                     "  tls:\n" +
                         tls_keys +
                         "providers:\n"
                         "  - { name: mock, type: mock }\n"
                         "models:\n"
                         "  - { name: m, deployments: [{ provider: mock, model: m }] }\n");
  }
  std::string tls_keys(const std::string& certificate, const std::string& key, const std::string& extra = "") const {
    return "    certificate: \"" + certificate + "\"\n    key: \"" + key + "\"\n" + extra;
  }
  std::string config() const { return write_config(tls_keys(server.certificate, server.key)); }
  TlsClientOptions client() const { return {.host = "localhost", .ca_file = pki.ca_file()}; }
};

TEST_F(DaemonTls, TheListeningLineSaysTlsAndMtls) {
  DaemonProcess tls({"--config", config()});
  ASSERT_NE(tls.wait_for_port(), 0) << tls.output();
  const std::string line = tls.wait_for_line("\"event\":\"listening\"");
  EXPECT_NE(line.find("\"tls\":true"), std::string::npos) << line;
  EXPECT_NE(line.find("\"mtls\":false"), std::string::npos) << line;
  EXPECT_NE(line.find("\"certificate\":\"CN=localhost\""), std::string::npos) << line;

  const std::string path = write_config(
      tls_keys(server.certificate, server.key, "    client_ca: \"" + pki.ca_file() + "\"\n"));
  DaemonProcess mtls({"--config", path});
  ASSERT_NE(mtls.wait_for_port(), 0) << mtls.output();
  EXPECT_NE(mtls.wait_for_line("\"event\":\"listening\"").find("\"mtls\":true"), std::string::npos) << mtls.output();
}

TEST_F(DaemonTls, SighupRotatesTheCertificateForNewConnections) {
  DaemonProcess daemon({"--config", config()});
  const std::uint16_t port = daemon.wait_for_port();
  ASSERT_NE(port, 0) << daemon.output();
  Connection kept(port, client());
  ASSERT_EQ(kept.request("GET", "/healthz").status, 200) << kept.error();
  EXPECT_EQ(kept.peer_certificate().serial, server.pem.serial);

  const auto rotated = pki.write_files("server", pki.issue({.common_name = "sluice-rotated", .server = true}));
  const std::size_t mark = daemon.output().size();
  daemon.signal(SIGHUP);
  const std::string line = daemon.wait_for_line("\"event\":\"tls_reloaded\"", 5s, mark);
  ASSERT_NE(line, kNotFound) << daemon.output();
  EXPECT_NE(line.find(rotated.pem.serial), std::string::npos) << line;

  Connection fresh(port, client());
  ASSERT_TRUE(fresh.is_open()) << fresh.error();
  EXPECT_EQ(fresh.peer_certificate().serial, rotated.pem.serial);
  EXPECT_EQ(fresh.peer_certificate().subject, "CN=sluice-rotated");
  EXPECT_EQ(fresh.request("GET", "/healthz").status, 200);

  // The connection opened before the reload goes on, with its certificate.
  EXPECT_EQ(kept.request("POST", "/v1/chat/completions", chat_body("m")).status, 200) << kept.error();
  EXPECT_EQ(kept.peer_certificate().serial, server.pem.serial);

  daemon.signal(SIGTERM);
  EXPECT_EQ(daemon.wait_exit(5s), 0) << daemon.output();
}

TEST_F(DaemonTls, SighupWithUnusableFilesKeepsTheOldCertificate) {
  DaemonProcess daemon({"--config", config()});
  const std::uint16_t port = daemon.wait_for_port();
  ASSERT_NE(port, 0) << daemon.output();

  // A certificate written before its key: the pair does not match.
  const Pem next = pki.issue({.common_name = "localhost", .server = true});
  pki.write("server.pem", next.certificate);
  std::size_t mark = daemon.output().size();
  daemon.signal(SIGHUP);
  // The reload checks the files first, as --check-config does, and refuses them.
  std::string line = daemon.wait_for_line("\"event\":\"config_reload_failed\"", 5s, mark);
  ASSERT_NE(line, kNotFound) << daemon.output();
  EXPECT_NE(line.find("server.tls.key: "), std::string::npos) << line;
  EXPECT_NE(line.find("does not match"), std::string::npos) << line;

  // A broken key file.
  pki.write("server.pem", server.pem.certificate);
  pki.write("server.key", "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
  mark = daemon.output().size();
  daemon.signal(SIGHUP);
  line = daemon.wait_for_line("\"event\":\"config_reload_failed\"", 5s, mark);
  ASSERT_NE(line, kNotFound) << daemon.output();
  EXPECT_NE(line.find(server.key), std::string::npos) << "the line names the file: " << line;

  Connection c(port, client());
  ASSERT_TRUE(c.is_open()) << c.error();
  EXPECT_EQ(c.peer_certificate().serial, server.pem.serial) << "the old certificate stays in use";
  EXPECT_EQ(c.request("GET", "/healthz").status, 200);

  const std::string& output = daemon.output();
  EXPECT_EQ(output.find("PRIVATE KEY"), std::string::npos) << output;
  EXPECT_EQ(output.find("bm90IGEga2V5"), std::string::npos) << output;
  const std::string key_body = server.pem.key.substr(server.pem.key.find('\n') + 1, 40);
  EXPECT_EQ(output.find(key_body), std::string::npos) << "no key material in the log";
}

TEST_F(DaemonTls, CheckConfigLoadsTheFiles) {
  const Finished valid = run_sluice({"--check-config", "--config", config()});
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
  EXPECT_NE(valid.output.find("configuration is valid"), std::string::npos) << valid.output;

  const auto other = pki.issue_files("other", {.common_name = "localhost", .server = true});
  const std::string mismatched = write_config(tls_keys(server.certificate, other.key));
  const Finished refused = run_sluice({"--check-config", "--config", mismatched});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find(mismatched + ": server.tls.key: the key in '" + other.key + "' does not match"),
            std::string::npos)
      << refused.output;
  // Starting with it is refused the same way, before anything listens.
  const Finished not_started = run_sluice({"--config", mismatched});
  EXPECT_EQ(not_started.exit_code, 1) << not_started.output;
  EXPECT_EQ(not_started.output.find("listening"), std::string::npos) << not_started.output;

  const std::string missing = write_config(tls_keys(pki.ca_file() + ".missing", server.key));
  const Finished absent = run_sluice({"--check-config", "--config", missing});
  EXPECT_EQ(absent.exit_code, 1) << absent.output;
  EXPECT_NE(absent.output.find(missing + ":4:18: server.tls.certificate: cannot read certificate file '" +
                               pki.ca_file() + ".missing': No such file or directory"),
            std::string::npos)
      << absent.output;
}

TEST(DaemonPlain, SighupWithoutTlsReloadsTheConfigurationAndNoCertificate) {
  TestPki files;  // for its directory
  const std::string path = files.write("sluice.yaml",
                                       "server: { listen: \"127.0.0.1:0\" }\n"
                                       "providers: [{ name: mock, type: mock }]\n"
                                       "models: [{ name: m, deployments: [{ provider: mock, model: m }] }]\n");
  DaemonProcess daemon({"--config", path});
  const std::uint16_t port = daemon.wait_for_port();
  ASSERT_NE(port, 0) << daemon.output();
  EXPECT_NE(daemon.wait_for_line("\"event\":\"listening\"").find("\"tls\":false"), std::string::npos);
  daemon.signal(SIGHUP);
  EXPECT_NE(daemon.wait_for_line("\"event\":\"config_reloaded\""), kNotFound) << daemon.output();
  EXPECT_EQ(daemon.output().find("tls_reload"), std::string::npos) << daemon.output();
  EXPECT_EQ(http_request(port, "GET", "/healthz").status, 200);
}

}  // namespace
}  // namespace sluice::test
