// Throwaway certificates for TLS tests, made with OpenSSL when a test runs so
// that no key material lives in the tree: a CA, server and client
// certificates it signs, and the PEM files a configuration names.
//
// Server certificates name DNS:localhost only (no IP address), so a client
// must connect as "localhost". Everything throws std::runtime_error on
// failure (a test setup error).
#pragma once

#include <string>

namespace sluice::test {

// One key pair and its certificate.
struct Pem {
  std::string key;          // PEM private key, unencrypted
  std::string certificate;  // PEM certificate
  std::string serial;       // upper-case hex, as the gateway logs it
  std::string subject;      // "CN=<common name>"
};

struct CertificateSpec {
  std::string common_name;
  bool ca = false;      // may sign certificates (basicConstraints CA:TRUE, keyCertSign)
  bool server = false;  // serverAuth, subjectAltName DNS:localhost
  bool client = false;  // clientAuth
};

// A P-256 key and a certificate valid from an hour ago for a day, with a
// random serial, signed by `issuer` (self-signed when null).
Pem make_certificate(const CertificateSpec& spec, const Pem* issuer = nullptr);

// A CA with a temporary directory for the files tests write; the destructor
// removes the directory.
class TestPki {
 public:
  explicit TestPki(const std::string& ca_name = "Sluice Test CA");
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const Pem& ca() const { return ca_; }
  const std::string& ca_file() const { return ca_file_; }  // the CA certificate, PEM

  // A certificate signed by this CA.
  Pem issue(const CertificateSpec& spec) const;

  // A certificate and key written to <name>.pem and <name>.key (replacing
  // files of those names).
  struct Files {
    std::string certificate, key;  // paths
    Pem pem;
  };
  Files issue_files(const std::string& name, const CertificateSpec& spec) const;
  Files write_files(const std::string& name, const Pem& pem) const;

  // Writes `contents` to <dir>/<name>, replacing the file as a rotation
  // tool does (a new file renamed over the old), and returns its path.
  std::string write(const std::string& name, const std::string& contents) const;

 private:
  std::string dir_;
  Pem ca_;
  std::string ca_file_;
};

}  // namespace sluice::test
