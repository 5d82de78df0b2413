// App: the composition root. The only place that names concrete classes: it
// builds providers, the pipeline and the server from a GatewayConfig.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

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

  const GatewayConfig& config() const noexcept;

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace sluice
