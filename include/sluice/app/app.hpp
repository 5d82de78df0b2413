// App: the composition root. The only place that names concrete classes: it
// builds providers, the pipeline and the server from a GatewayConfig.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
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

  // A configuration reload (SIGHUP, a change of the file). `next` has passed
  // the loader and check_files. Refused when a setting that needs a restart
  // changed (see restart_needed in generation.hpp) or a part cannot be
  // built: the running configuration stays. Otherwise the requests that
  // start from now on are served under `next`, those in flight finish under
  // the configuration they started with; pool and key state carry over (see
  // ProviderPool::carry_over, Gatekeeper::carry_over), the answer cache too
  // when its settings did not change, and server.tls's files are read again
  // (certificate rotation). Logs config_reloaded or config_reload_failed and
  // counts it in sluice_config_reloads_total. Call on the loop.
  bool reload(GatewayConfig next);
  // A reload that failed before it reached the App (`source` did not
  // load): logged as config_reload_failed with the problems and counted.
  void reload_failed(const std::string& source, const std::vector<ConfigProblem>& problems);

  // The configuration in use for new requests (it changes with a reload).
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
