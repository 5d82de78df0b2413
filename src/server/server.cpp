#include "sluice/server/server.hpp"

#include <stdexcept>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "connection_refuser.hpp"
#include "session.hpp"
#include "sluice/core/log.hpp"
#include "sluice/net/tls.hpp"

namespace sluice::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Server::State {
  State(asio::any_io_executor ex, const GatewayConfig& config, Metrics* metrics)
      : executor(ex), server(config.server), acceptor(ex), grace_timer(ex),
        env(std::make_shared<SessionEnv>(config.server.max_buffered_body_bytes, metrics)) {}

  asio::any_io_executor executor;
  ServerConfig server;  // as started: listen, max_connections, TLS on or off
  tcp::acceptor acceptor;
  asio::steady_timer grace_timer;
  ConnectionRefuser refuser;  // connections over server.max_connections
  bool refusing = false;      // the last connection accepted was refused: logged once per episode
  std::shared_ptr<SessionEnv> env;
  std::shared_ptr<asio::ssl::context> tls;  // server.tls: for connections accepted from now on
  std::function<void()> done;
  bool accepting = false;

  void finish_if_idle() {
    if (!env->draining || !env->sessions.empty() || accepting || !done) return;
    grace_timer.cancel();
    asio::post(executor, std::exchange(done, nullptr));
  }
};

namespace {

// Resolves "host:port" / "[v6]:port" (validated by the config loader).
tcp::endpoint parse_listen(asio::any_io_executor ex, const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  const std::string port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "*") host = "0.0.0.0";
  tcp::resolver resolver(ex);
  auto results = resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service);
  return results.begin()->endpoint();  // resolve() throws when there is none
}

asio::awaitable<void> accept_loop(std::shared_ptr<Server::State> state) {
  const int max_connections = state->server.max_connections;
  asio::steady_timer backoff(state->executor);
  while (state->acceptor.is_open()) {
    auto [ec, socket] = co_await state->acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !state->acceptor.is_open()) break;
    if (ec) {
      // Out of file descriptors and the like: pause instead of spinning.
      log::warn("accept_failed", {{"error", ec.message()}});
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    // At the connection limit, further clients are answered 503 at once
    // (see ConnectionRefuser) rather than left waiting in the backlog.
    if (static_cast<int>(state->env->sessions.size()) >= max_connections) {
      if (!std::exchange(state->refusing, true))
        log::warn("max_connections_reached", {{"max_connections", max_connections},
                                              {"detail", "further connections are refused with 503 until one closes"}});
      state->refuser.refuse(std::move(socket), state->tls != nullptr);
      continue;
    }
    state->refusing = false;
    boost::system::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    start_session(std::move(socket), state->env, state->tls);
  }
  state->accepting = false;
  state->finish_if_idle();
}

}  // namespace

Server::Server(asio::any_io_executor executor, const GatewayConfig& config, pipeline::Pipeline& pipeline,
               Metrics* metrics, std::shared_ptr<const void> owner)
    : state_(std::make_shared<State>(executor, config, metrics)) {
  serve_with(config, pipeline, std::move(owner));
  state_->env->on_session_closed = [s = state_.get()] { s->finish_if_idle(); };
}

Server::~Server() {
  state_->env->on_session_closed = nullptr;
  boost::system::error_code ec;
  state_->acceptor.close(ec);
}

void Server::serve_with(const GatewayConfig& config, pipeline::Pipeline& pipeline, std::shared_ptr<const void> owner) {
  SessionEnv& env = *state_->env;
  env.front = std::make_shared<Front>(std::move(owner), config, pipeline, env.draining, env.metrics);
}

void Server::start() {
  const ServerConfig& config = state_->server;
  net::ServerTls tls;
  if (config.tls) {
    tls = net::load_server_tls(*config.tls);
    if (!tls.context) throw std::runtime_error(tls.problem.key_path + ": " + tls.problem.message);
    state_->tls = tls.context;
  }
  const tcp::endpoint endpoint = parse_listen(state_->executor, config.listen);
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  state_->accepting = true;
  asio::co_spawn(state_->executor, accept_loop(state_), asio::detached);
  const std::string address = acceptor.local_endpoint().address().to_string();
  if (!state_->tls) {
    log::info("listening", {{"address", address}, {"port", port()}, {"tls", false}});
    return;
  }
  log::info("listening", {{"address", address}, {"port", port()}, {"tls", true},
                          {"mtls", !config.tls->client_ca.empty()},
                          {"certificate", tls.certificate.subject}, {"not_after", tls.certificate.not_after}});
}

std::optional<ConfigProblem> Server::reload_tls(const ServerTlsConfig& files) {
  if (!state_->tls) {
    return ConfigProblem{"server.tls", 0, 0, "the server was started without TLS; restart to turn it on"};
  }
  net::ServerTls tls = net::load_server_tls(files);
  if (!tls.context) {
    log::error("tls_reload_failed", {{"key", tls.problem.key_path}, {"error", tls.problem.message},
                                     {"detail", "the previous certificate stays in use"}});
    return tls.problem;
  }
  state_->tls = std::move(tls.context);
  log::info("tls_reloaded", {{"certificate", tls.certificate.subject}, {"serial", tls.certificate.serial},
                             {"not_after", tls.certificate.not_after}, {"mtls", !files.client_ca.empty()}});
  return std::nullopt;
}

std::uint16_t Server::port() const { return state_->acceptor.local_endpoint().port(); }

bool Server::listens_on_loopback() const {
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec).address().is_loopback();
}

bool Server::draining() const { return state_->env->draining; }

std::size_t Server::connections() const noexcept { return state_->env->sessions.size(); }

std::size_t Server::in_flight() const noexcept { return state_->env->in_flight; }

std::uint64_t Server::connections_refused() const noexcept { return state_->refuser.refused(); }

void Server::shutdown(std::function<void()> done) {
  auto& s = *state_;
  if (s.env->draining) return;
  s.env->draining = true;
  s.done = std::move(done);
  boost::system::error_code ec;
  s.acceptor.close(ec);
  log::info("shutdown_started", {{"connections", s.env->sessions.size()},
                                 {"grace_ms", s.env->front->config.server.shutdown_grace.count()}});
  for (Session* session : std::vector<Session*>(s.env->sessions.begin(), s.env->sessions.end())) session->drain();
  s.grace_timer.expires_after(s.env->front->config.server.shutdown_grace);
  s.grace_timer.async_wait([state = state_](boost::system::error_code wait_ec) {
    if (wait_ec) return;
    if (!state->env->sessions.empty())
      log::warn("shutdown_grace_expired", {{"connections_cut", state->env->sessions.size()}});
    for (Session* session : std::vector<Session*>(state->env->sessions.begin(), state->env->sessions.end()))
      session->force_close();
  });
  s.finish_if_idle();
}

}  // namespace sluice::server
