// Server: the HTTP/1.1 front door, over TLS when server.tls is set. Accepts
// connections, runs one session per connection (TLS handshake, keep-alive,
// deadlines, request limits), hands API requests to the pipeline, and shuts
// down gracefully.
//
// Runs on one executor (one event loop thread); not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include <boost/asio/any_io_executor.hpp>

#include "sluice/core/config.hpp"
#include "sluice/core/metrics.hpp"
#include "sluice/pipeline/pipeline.hpp"

namespace sluice::server {

class Server {
 public:
  // `metrics` (null: off) records every request and is what GET /metrics
  // shows; it must outlive the server.
  // server.listen, max_connections and max_buffered_body_bytes are taken
  // from `config` once; everything else is read per request from the
  // configuration given last (here or by serve_with). `owner` (may be null)
  // is kept while a request uses `config` and `pipeline`.
  Server(boost::asio::any_io_executor executor, const GatewayConfig& config, pipeline::Pipeline& pipeline,
         Metrics* metrics = nullptr, std::shared_ptr<const void> owner = nullptr);
  ~Server();

  // A configuration reload: requests that start from now on are served by
  // `pipeline` under `config`; those in flight (streams included) finish
  // with what they started with, which their `owner` keeps alive until the
  // last of them ends. server.listen, max_connections,
  // max_buffered_body_bytes and whether TLS is on keep their start values.
  // Call on the executor.
  void serve_with(const GatewayConfig& config, pipeline::Pipeline& pipeline, std::shared_ptr<const void> owner);

  // Binds server.listen and starts accepting. Throws std::system_error when
  // the address cannot be bound, std::runtime_error when a server.tls file
  // cannot be used (sluice --check-config reports that earlier).
  void start();

  // The bound port (useful with port 0).
  std::uint16_t port() const;
  // Whether the listening address is a loopback one (127.x, ::1): only
  // clients on this host can connect.
  bool listens_on_loopback() const;

  // Graceful shutdown: stop accepting (new connections, probes included, are
  // refused; a /readyz already being read answers 503), idle keep-alive
  // connections close now, busy ones after their current response; after
  // server.shutdown_grace the rest are cut, a stream after its SSE error
  // event and chunked terminator. `done` runs when no connection remains.
  void shutdown(std::function<void()> done);

  bool draining() const;

  // For the metrics: connections open now, and requests being handled on them.
  std::size_t connections() const noexcept;
  std::size_t in_flight() const noexcept;
  // Connections refused (503, closed) because server.max_connections were open.
  std::uint64_t connections_refused() const noexcept;

  // Certificate rotation: builds a new TLS context from the files `tls`
  // names and uses it for the connections accepted from now on; open
  // connections keep theirs. When a file is unusable the current context
  // stays. Logs tls_reloaded (info: the new certificate's subject, serial and
  // expiry) or tls_reload_failed (error: the server.tls key and the file,
  // never their contents). Returns the problem, if any; a server started
  // without TLS cannot take it up here (restart). Call on the executor.
  std::optional<ConfigProblem> reload_tls(const ServerTlsConfig& tls);

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace sluice::server
