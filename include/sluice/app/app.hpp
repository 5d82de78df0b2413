// App: the composition root. The only place that names concrete classes: it
// builds providers, the pipeline and the server from a GatewayConfig.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "sluice/core/config.hpp"

namespace sluice {

class App {
 public:
  // Builds every component; throws std::runtime_error on configuration the
  // loader could not check (an unreadable CA file).
  App(boost::asio::io_context& io, GatewayConfig config);
  ~App();

  // Binds and starts serving. Throws std::system_error when the listen address
  // cannot be bound.
  void start();
  std::uint16_t port() const;

  // Graceful shutdown (see server::Server::shutdown); `done` runs on the loop.
  void shutdown(std::function<void()> done);

  // SIGHUP with server.tls: re-reads its certificate, key and client_ca
  // files for new connections (see server::Server::reload_tls). False, with
  // tls_reload_failed logged, when they are unusable; false without TLS.
  // Call on the loop.
  bool reload_tls();

  const GatewayConfig& config() const noexcept;

  // What the loader does not check because it needs OpenSSL: that
  // server.tls's files hold a certificate chain, a key matching it and CA
  // certificates. Empty when all is well. Run before start and by
  // `sluice --check-config`.
  static std::vector<ConfigProblem> check_files(const GatewayConfig& config);

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace sluice
