#include "sluice/app/app.hpp"

#include "state_gauges.hpp"

#include "sluice/auth/gatekeeper.hpp"
#include "sluice/cache/cache.hpp"
#include "sluice/core/clock.hpp"
#include "sluice/core/embedder.hpp"
#include "sluice/core/log.hpp"
#include "sluice/net/tls.hpp"
#include "sluice/pipeline/model_catalog.hpp"
#include "sluice/pipeline/pipeline.hpp"
#include "sluice/pool/provider_pool.hpp"
#include "sluice/providers/provider.hpp"
#include "sluice/router/router.hpp"
#include "sluice/queue/redis_jobs.hpp"
#include "sluice/redis/client.hpp"
#include "sluice/server/job_call.hpp"
#include "sluice/server/server.hpp"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include <boost/asio/awaitable.hpp>

#include "sluice/cache/verifier.hpp"
#include "sluice/embed/use_lite.hpp"

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
        cache_redis(config.cache.enabled && config.redis
                        ? std::make_unique<redis::Client>(io.get_executor(), *config.redis)
                        : nullptr),
        cache(make_answer_cache(config, providers, clock, cache_redis.get(), io.get_executor())),
        pipeline(gatekeeper, router, pool, catalog, providers, clock, config.queue),
        metrics(config.metrics.enabled ? std::make_unique<Metrics>(config) : nullptr),
        server(io.get_executor(), config, pipeline, metrics.get()) {
    if (cache) pipeline.set_cache(cache.get(), config.cache);
    if (config.queue.backend == QueueBackend::redis && config.redis) {
      jobs = std::make_unique<queue::RedisJobs>(
          io.get_executor(), *config.redis, config.queue, job_groups(config),
          [this](const queue::JobEntry& job) { return run_job(job); },
          [this](const std::string& group) { return capacity(group); });
      pipeline.set_job_backend(jobs.get());
    }
    if (metrics) add_state_gauges(*metrics, pool, pipeline, server, jobs.get(), clock);
  }

  // The streams async jobs wait in: every model group and router alias a
  // client may name.
  static std::vector<std::string> job_groups(const GatewayConfig& config) {
    std::vector<std::string> groups;
    for (const ModelConfig& m : config.models) groups.push_back(m.name);
    for (const RouterConfig& r : config.routers) groups.push_back(r.alias);
    return groups;
  }

  Clock::duration capacity(const std::string& group) {
    for (const ModelConfig& m : config.models)
      if (m.name == group) return pool.wait_hint(group, pool::Demand{}, clock->now());
    return Clock::duration::zero();  // an alias: its tier decides when it runs
  }

  // A job from the shared queue, run here as its submitter's call.
  boost::asio::awaitable<std::optional<queue::JobOutcome>> run_job(const queue::JobEntry& job) {
    auto failed = [](const Error& e) { return queue::JobOutcome{false, e.status(), error_body(e)}; };
    auto call = server::decode_job_call(job.endpoint, job.body);
    if (!call) co_return failed(call.error());
    auto caller = gatekeeper.caller_for(job.key_id, job.tenant);
    if (!caller) co_return failed(caller.error());
    call->request.stream = false;  // a job's answer is kept whole
    // The headers the stages read, as the submitting replica's front door
    // copied them, less those this replica's rules do not read.
    const auto& wanted = pipeline.header_names();
    for (const Header& h : job.headers)
      if (std::find(wanted.begin(), wanted.end(), h.name) != wanted.end()) call->headers.push_back(h);
    call->priority = static_cast<Priority>(std::clamp(job.priority, 0, 2));
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock->wall().time_since_epoch()).count();
    call->max_wait = std::chrono::milliseconds(std::max<std::int64_t>(0, job.deadline_ms - now_ms));
    RequestContext ctx;
    ctx.request_id = job.id;
    ctx.tenant = job.tenant;
    ctx.key_id = job.key_id;
    auto answer = co_await pipeline.serve(*caller, std::move(*call), ctx);
    log::info("job_finished", {{"request_id", job.id}, {"tenant", job.tenant}, {"provider", ctx.provider},
                               {"status", answer ? answer->status : answer.error().status()},
                               {"queued_ms", std::chrono::duration<double, std::milli>(ctx.queued).count()}});
    if (!answer) {
      // Shutting down: leave the job pending for another replica.
      if (answer.error().code == errc::shutting_down || answer.error().code == errc::cancelled) co_return std::nullopt;
      co_return failed(answer.error());
    }
    co_return queue::JobOutcome{true, answer->status, std::move(answer->body)};
  }

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

  // The answer cache (cache section): the exact tier, and the semantic one
  // when chosen, with its embedder and verifier; nullptr when off.
  static std::unique_ptr<cache::Cache> make_answer_cache(const GatewayConfig& config, pipeline::ProviderMap& providers,
                                                        std::shared_ptr<const Clock> clock, redis::Client* redis,
                                                        boost::asio::any_io_executor executor) {
    const CacheConfig& c = config.cache;
    if (!c.enabled) return nullptr;
    cache::CacheParts parts;
    parts.clock = std::move(clock);
    if (redis) {  // entries shared with the other replicas through Redis
      parts.redis = redis;
      parts.redis_config = config.redis;
      parts.executor = std::move(executor);
    }
    std::string embedder = "none";
    if (c.semantic.enabled) {
      if (auto verify = make_verify()) {
        parts.verify = std::move(verify);
        if (!c.semantic.embedder_provider.empty()) {
          parts.embedding = pipeline::remote_embedding(providers, c.semantic.embedder_provider,
                                                       c.semantic.embedder_model, c.semantic.embed_timeout);
        } else {
          parts.embedding = cache::on_workers(builtin_embedder(c.semantic), c.semantic.embed_threads);
        }
        embedder = std::string(parts.embedding->name());
      }
    }
    log::info("cache", {{"exact", true},
                        {"semantic", parts.embedding != nullptr},
                        {"embedder", embedder},
                        {"threshold", c.semantic.threshold},
                        {"ttl_ms", c.ttl.count()},
                        {"max_entries", c.max_entries},
                        {"max_bytes", c.max_bytes},
                        {"shared", redis != nullptr}});
    return cache::make_cache(c, std::move(parts));
  }

  // The verifier the semantic tier checks every candidate with.
  static cache::Verify make_verify() {
    auto verifier = std::make_shared<const cache::Verifier>(cache::Verifier::load());
    if (!verifier->lexicon_warning().empty())
      log::warn("cache_verifier_lexicon", {{"detail", verifier->lexicon_warning()}});
    return [verifier](std::string_view stored, std::string_view incoming) { return verifier->check(stored, incoming); };
  }

  // builtin: use-lite when its weights load, else hashed-ngram with a
  // warning that says why; use-lite chosen by name must load.
  static std::shared_ptr<const Embedder> builtin_embedder(const SemanticCacheConfig& c) {
    if (c.embedder == "hashed-ngram") return make_hashed_embedder(kCacheHashedDimensions);
    std::string why;
    const std::vector<std::filesystem::path> dirs =
        c.weights_dir.empty() ? embed::use_lite_search_path() : std::vector<std::filesystem::path>{c.weights_dir};
    for (const std::filesystem::path& dir : dirs) {
      auto loaded = embed::load_use_lite(dir);
      if (loaded) return std::shared_ptr<const Embedder>(std::move(loaded).value());
      why += (why.empty() ? "" : "; ") + loaded.error().message;
    }
    if (dirs.empty()) why = "no directory to look for its weights in";
    if (c.embedder == "use-lite") throw std::runtime_error("cache.semantic.embedder use-lite cannot load: " + why);
    log::warn("cache_embedder_fallback", {{"embedder", "hashed-ngram"}, {"reason", why}});
    return make_hashed_embedder(kCacheHashedDimensions);
  }

  GatewayConfig config;
  std::shared_ptr<const Clock> clock;
  auth::Gatekeeper gatekeeper;
  std::unique_ptr<Embedder> embedder;
  router::ComplexityRouter router;
  pipeline::ProviderMap providers;
  pool::ProviderPool pool;
  pipeline::ModelCatalog catalog;
  std::unique_ptr<redis::Client> cache_redis;  // the cache's connection, when shared through Redis
  std::unique_ptr<cache::Cache> cache;
  pipeline::Pipeline pipeline;
  std::unique_ptr<Metrics> metrics;  // metrics.enabled
  server::Server server;
  std::unique_ptr<queue::RedisJobs> jobs;  // queue.backend redis
};

App::App(boost::asio::io_context& io, GatewayConfig config) : parts_(std::make_unique<Parts>(io, std::move(config))) {}
App::~App() = default;

void App::start() {
  parts_->server.start();
  if (parts_->jobs) parts_->jobs->start();
  if (parts_->cache_redis) parts_->cache_redis->start();
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
  auto remaining = std::make_shared<int>(parts_->jobs ? 3 : 2);
  auto one_done = [remaining, done = std::move(done)] {
    if (--*remaining == 0 && done) done();
  };
  // Shared jobs: stop reading; those running finish, or (when the queue
  // refuses them at shutdown) stay pending for another replica.
  if (parts_->jobs) parts_->jobs->stop(one_done);
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
