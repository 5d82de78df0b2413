// One client connection: read a request (with limits and deadlines), answer
// it (JSON or relayed SSE), repeat while keep-alive holds.
#pragma once

#include <memory>
#include <functional>
#include <unordered_set>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "sluice/core/config.hpp"
#include "sluice/core/request_context.hpp"
#include "sluice/net/deadline.hpp"
#include "body_budget.hpp"
#include "reply.hpp"
#include "routes.hpp"
#include "sluice/pipeline/pipeline.hpp"

namespace sluice::server {

class Session;

// What sessions share: configuration, the route table, and the server's view
// of its connections (for graceful shutdown).
struct SessionEnv {
  SessionEnv(const GatewayConfig& c, pipeline::Pipeline& pipeline)
      : config(c), routes(pipeline, draining, c.server.cors), body_budget(c.server.max_buffered_body_bytes) {}

  const GatewayConfig& config;
  bool draining = false;  // before `routes`, which reads it
  Routes routes;
  BodyBudget body_budget;  // request bodies buffered by all sessions
  std::unordered_set<Session*> sessions;
  std::function<void()> on_session_closed;  // lets shutdown notice the last one
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(boost::asio::ip::tcp::socket socket, std::shared_ptr<SessionEnv> env);
  ~Session();

  // Serves requests until the connection closes. Never throws.
  boost::asio::awaitable<void> run();

  // Graceful: close now if waiting for a request, else after the current response.
  void drain();
  // Immediate: cancel any upstream work and close the socket; a stream whose
  // head went out is first ended properly (SSE error event, chunked
  // terminator) within a short bound.
  void force_close();

 private:
  struct Outcome;
  boost::asio::awaitable<bool> serve_one();
  void cut_stream();
  net::Deadline::Clock::duration head_window(Millis header_timeout) const;
  boost::asio::awaitable<void> write_reply(Reply& reply, RequestContext& ctx, bool keep_alive,
                                           Outcome& outcome);
  boost::asio::awaitable<void> write_stream(Reply& reply, RequestContext& ctx, bool keep_alive,
                                            Outcome& outcome);
  // By reference: temporaries in the caller's co_await expression outlive it.
  boost::asio::awaitable<void> refuse(const Error& error, std::string_view request_id);

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  boost::asio::ip::address peer_;  // the client's address, for the authentication stage
  std::shared_ptr<SessionEnv> env_;
  net::Deadline deadline_;   // the current read or write; expiry cancels it  // shared: a session may outlive the Server object
  bool idle_ = true;         // waiting for the next request's first byte
  bool closing_ = false;     // answer the current request, then close
  bool first_request_ = true;
  net::Deadline::Clock::time_point connected_at_ = net::Deadline::Clock::now();
  bool http10_ = false;      // the current request is HTTP/1.0
  bool head_only_ = false;   // the current request is HEAD: no body goes out
  bool linger_ = false;      // a refused request may still be arriving: drain before close
  bool stream_started_ = false;  // a stream's head is written or being written
  bool cut_ = false;         // shutdown_grace ended mid-stream: end the stream with an error event
  Wire wire_ = Wire::openai;  // the conventions of the current request's path, for refusals
  RequestContext* current_ = nullptr;  // the request in progress, for force_close
};

}  // namespace sluice::server
