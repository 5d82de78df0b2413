#include "sluice/app/app.hpp"

#include "sluice/auth/gatekeeper.hpp"
#include "sluice/core/clock.hpp"
#include "sluice/core/embedder.hpp"
#include "sluice/core/log.hpp"
#include "sluice/net/tls.hpp"
#include "sluice/pipeline/model_catalog.hpp"
#include "sluice/pipeline/pipeline.hpp"
#include "sluice/pool/provider_pool.hpp"
#include "sluice/providers/provider.hpp"
#include "sluice/router/router.hpp"
#include "sluice/server/server.hpp"

namespace sluice {

// The gateway's parts in dependency order: each one is built from those
// above it and destroyed before them.
struct App::Parts {
  Parts(boost::asio::io_context& io, GatewayConfig cfg)
      : config(std::move(cfg)),
        clock(std::make_shared<SteadyClock>()),
        gatekeeper(config.auth, clock),
        embedder(make_embedder(config)),
        router(config.routers, embedder.get()),
        providers(make_providers(io, config)),
        pool(config, clock->now()),
        catalog(config, providers, pool, *clock),
        pipeline(gatekeeper, router, pool, catalog, providers, clock, config.queue),
        server(io.get_executor(), config, pipeline) {}

  static pipeline::ProviderMap make_providers(boost::asio::io_context& io, const GatewayConfig& config) {
    pipeline::ProviderMap map;
    for (const ProviderConfig& p : config.providers) map.emplace(p.name, providers::make_provider(p, io.get_executor()));
    return map;
  }

  // The knn routers' embedder: the weightless hashed one, the only
  // in-process embedder so far (the semantic cache brings a sentence encoder).
  static std::unique_ptr<Embedder> make_embedder(const GatewayConfig& config) {
    for (const RouterConfig& r : config.routers)
      if (r.mode == RouterMode::knn) return make_hashed_embedder();
    return nullptr;
  }

  GatewayConfig config;
  std::shared_ptr<const Clock> clock;
  auth::Gatekeeper gatekeeper;
  std::unique_ptr<Embedder> embedder;
  router::ComplexityRouter router;
  pipeline::ProviderMap providers;
  pool::ProviderPool pool;
  pipeline::ModelCatalog catalog;
  pipeline::Pipeline pipeline;
  server::Server server;
};

App::App(boost::asio::io_context& io, GatewayConfig config) : parts_(std::make_unique<Parts>(io, std::move(config))) {}
App::~App() = default;

void App::start() {
  parts_->server.start();
  // Who may call, said once at start: an operator reading the log knows
  // whether the port is open to anyone.
  const std::string_view posture = parts_->gatekeeper.posture();
  log::info("auth", {{"posture", posture}, {"keys", parts_->gatekeeper.key_count()}});
  const bool loopback_listener = parts_->server.listens_on_loopback();
  if (posture == "loopback_only" && !loopback_listener)
    log::warn("auth_loopback_only", {{"detail", "no gateway keys are configured: only clients on this host are served; "
                                                "configure auth.keys (or auth.allow_unauthenticated) to serve others"}});
  if (posture == "unauthenticated" && !loopback_listener)
    log::warn("auth_unauthenticated", {{"detail", "auth.allow_unauthenticated is set and the gateway listens beyond "
                                                  "loopback: anyone who reaches the port can spend the provider keys"}});
}
std::uint16_t App::port() const { return parts_->server.port(); }
// The queue lets its waiting calls go first (503 shutting_down: the client's
// retry finds another replica) and cancels its background jobs; the server
// then drains its connections.
void App::shutdown(std::function<void()> done) {
  auto remaining = std::make_shared<int>(2);
  auto one_done = [remaining, done = std::move(done)] {
    if (--*remaining == 0 && done) done();
  };
  parts_->pipeline.shutdown(one_done);
  parts_->server.shutdown(one_done);
}
const GatewayConfig& App::config() const noexcept { return parts_->config; }

bool App::reload_tls() {
  const auto& tls = parts_->config.server.tls;
  return tls && !parts_->server.reload_tls(*tls);
}

std::vector<ConfigProblem> App::check_files(const GatewayConfig& config) {
  std::vector<ConfigProblem> problems;
  if (config.server.tls) {
    net::ServerTls tls = net::load_server_tls(*config.server.tls);
    if (!tls.context) problems.push_back(std::move(tls.problem));
  }
  return problems;
}

}  // namespace sluice
