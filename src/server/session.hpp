// Sessions: one per client connection, over plain TCP or TLS. A session reads
// a request (with limits and deadlines), answers it (JSON or relayed SSE), and
// repeats while keep-alive holds; over TLS it first completes the handshake.
//
// The session type is a template over its stream, defined and instantiated
// in session.cpp only (plain beast::tcp_stream and beast::ssl_stream over
// it): the Server sees this interface and start_session, so Beast's templates
// are compiled once, and the plain path runs exactly the code it did before
// TLS existed.
#pragma once

#include <functional>
#include <memory>
#include <unordered_set>

#include <boost/asio/ip/tcp.hpp>

#include "body_budget.hpp"
#include "routes.hpp"
#include "sluice/core/config.hpp"
#include "sluice/pipeline/pipeline.hpp"

namespace boost::asio::ssl {
class context;
}

namespace sluice::server {

// What the server does to its connections, whatever their transport.
class Session {
 public:
  virtual ~Session() = default;

  // Graceful: close now if waiting for a request (or still in the TLS
  // handshake), else after the current response.
  virtual void drain() = 0;
  // Immediate: cancel any upstream work and close the socket; a stream whose
  // head went out is first ended properly (SSE error event, chunked
  // terminator) within a short bound.
  virtual void force_close() = 0;
};

// What one configuration generation gives the front door. A request takes
// the server's current Front when it starts and keeps it to its end (its
// stream included), so a reload never changes the rules under it.
struct Front {
  Front(std::shared_ptr<const void> o, const GatewayConfig& c, pipeline::Pipeline& pipeline, const bool& draining,
        const Metrics* m)
      : owner(std::move(o)), config(c), routes(pipeline, draining, c.server.cors, m, c.metrics.require_key) {}

  std::shared_ptr<const void> owner;  // keeps `config` and the pipeline alive
  const GatewayConfig& config;
  Routes routes;
};

// What sessions share: the current Front, and the server's view of its
// connections (for graceful shutdown).
struct SessionEnv {
  SessionEnv(std::size_t max_buffered_body_bytes, Metrics* m) : metrics(m), body_budget(max_buffered_body_bytes) {}

  std::shared_ptr<Front> front;  // replaced by a reload
  Metrics* metrics;       // null: metrics are off
  bool draining = false;  // read by every Front's routes
  BodyBudget body_budget;  // request bodies buffered by all sessions
  std::unordered_set<Session*> sessions;
  std::size_t in_flight = 0;  // requests read and not yet answered in full
  std::function<void()> on_session_closed;  // lets shutdown notice the last one
};

// Serves an accepted connection until it closes, on the socket's executor:
// over TLS with `tls` (the connection keeps that context however often the
// server's changes), else plain HTTP. The session is in env->sessions from now
// until it ends, and calls env->on_session_closed then. Never throws once
// started.
void start_session(boost::asio::ip::tcp::socket socket, std::shared_ptr<SessionEnv> env,
                   std::shared_ptr<boost::asio::ssl::context> tls);

}  // namespace sluice::server
