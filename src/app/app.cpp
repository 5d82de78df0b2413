#include "sluice/app/app.hpp"

#include "generation.hpp"
#include "state_gauges.hpp"

#include "sluice/core/log.hpp"
#include "sluice/core/metrics.hpp"
#include "sluice/core/request_summary.hpp"
#include "sluice/net/tls.hpp"
#include "sluice/queue/memory_jobs.hpp"
#include "sluice/queue/redis_jobs.hpp"
#include "sluice/server/job_call.hpp"
#include "sluice/server/server.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace sluice {

namespace {

// How often retired generations are checked, and how many checks in a row
// one must be idle before it goes: the second lets detached work it started
// (a cache store) end first.
constexpr auto kSweepEvery = std::chrono::seconds(1);
constexpr int kIdleSweeps = 2;

}  // namespace

// What lives as long as the process: the loop, the clock, the metrics, the
// listener and the shared job queue; and the current configuration's
// generation, with those a reload replaced while requests still use them.
struct App::Parts {
  Parts(boost::asio::io_context& io_context, GatewayConfig cfg)
      : io(io_context),
        clock(std::make_shared<SteadyClock>()),
        current(first_generation(io, std::move(cfg), clock)),
        metrics(current->config.metrics.enabled ? std::make_unique<Metrics>(current->config) : nullptr),
        server(io.get_executor(), current->config, current->pipeline, metrics.get(), current),
        sweep_timer(io) {
    const GatewayConfig& config = current->config;
    // Both job backends run a job the same way: run_job, through the pipeline.
    auto runner = [this](const queue::JobEntry& job) { return run_job(job); };
    if (config.queue.backend == QueueBackend::redis && config.redis) {
      jobs = std::make_unique<queue::RedisJobs>(io.get_executor(), *config.redis, config.queue, current->job_groups(),
                                                runner, [this](const std::string& group) { return capacity(group); });
    } else {
      memory_jobs = std::make_unique<queue::MemoryJobs>(io.get_executor(), config.queue, runner, clock);
    }
    connect_jobs(*current);
    add_gauges();
  }

  // A generation's pipeline sends async jobs to the process's job backend
  // and reports their runs here.
  void connect_jobs(Generation& gen) {
    gen.pipeline.set_job_backend(jobs ? static_cast<queue::JobBackend*>(jobs.get()) : memory_jobs.get());
    gen.pipeline.set_job_observer([this](const RequestSummary& run) { record_job(run); });
  }

  // An async job's run, written like a request: the access-log line
  // (method JOB) and the metrics (route "job"), so its tokens and cost
  // reach the per-tenant totals.
  void record_job(const RequestSummary& run) {
    const GatewayConfig& config = current->config;
    if (!config.logging.access_log && !metrics) return;
    const ProviderConfig* provider = run.ctx.provider.empty() ? nullptr : config.find_provider(run.ctx.provider);
    RequestSummary summary = run;
    summary.provider_type = provider ? to_string(provider->type) : std::string_view{};
    if (config.logging.access_log) log_request(summary);
    if (metrics) metrics->record(summary);
  }

  static std::shared_ptr<Generation> first_generation(boost::asio::io_context& io, GatewayConfig config,
                                                      std::shared_ptr<const Clock> clock) {
    auto cache = std::make_shared<AnswerCache>(io, config, clock);
    return std::make_shared<Generation>(io, std::move(config), std::move(clock), std::move(cache));
  }

  void add_gauges() {
    if (metrics)
      add_state_gauges(*metrics, current->pool, current->pipeline, server, memory_jobs.get(), jobs.get(), clock);
  }

  Clock::duration capacity(const std::string& group) {
    const std::shared_ptr<Generation> gen = current;
    for (const ModelConfig& m : gen->config.models)
      if (m.name == group) return gen->pool.wait_hint(group, pool::Demand{}, clock->now());
    return Clock::duration::zero();  // an alias: its tier decides when it runs
  }

  // An async job (either backend), run here as its submitter's call, under
  // the configuration current when it starts.
  boost::asio::awaitable<std::optional<queue::JobOutcome>> run_job(const queue::JobEntry& job) {
    const std::shared_ptr<Generation> gen = current;
    auto failed = [](const Error& e) { return queue::JobOutcome{false, e.status(), error_body(e)}; };
    auto call = server::decode_job_call(job.endpoint, job.body);
    if (!call) co_return failed(call.error());
    auto caller = gen->gatekeeper.caller_for(job.key_id, job.tenant);
    if (!caller) co_return failed(caller.error());
    call->request.stream = false;  // a job's answer is kept whole
    // The headers the stages read, as the submitting replica's front door
    // copied them, less those this replica's rules do not read.
    const auto& wanted = gen->pipeline.header_names();
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
    const Endpoint endpoint = call->request.endpoint;
    auto answer = co_await gen->pipeline.serve(*caller, std::move(*call), ctx);
    gen->pipeline.job_finished(ctx, endpoint, job.body.size(), answer);
    if (!answer) {
      // Shutting down: leave the job pending for another replica.
      if (answer.error().code == errc::shutting_down || answer.error().code == errc::cancelled) co_return std::nullopt;
      co_return failed(answer.error());
    }
    co_return queue::JobOutcome{true, answer->status, std::move(answer->body)};
  }

  void start_cache(AnswerCache* cache) {
    if (!cache || cache->started) return;
    cache->started = true;
    if (cache->redis) cache->redis->start();
  }

  // A replaced generation lives on while requests, streams, queued calls or
  // async jobs still use it; the sweep lets it go once none does.
  void retire(std::shared_ptr<Generation> gen) {
    retired.push_back(Retired{std::move(gen), 0});
    if (retired.size() == 1) schedule_sweep();
  }

  void schedule_sweep() {
    sweep_timer.expires_after(kSweepEvery);
    sweep_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      for (Retired& r : retired) {
        const bool idle = r.gen.use_count() == 1 && r.gen->pipeline.idle();
        r.idle_sweeps = idle ? r.idle_sweeps + 1 : 0;
      }
      // Oldest first, and never past one still in use: the pool and key
      // state an old generation shares point into the configuration of the
      // newest generation that took them over.
      const auto in_use = std::find_if(retired.begin(), retired.end(),
                                       [](const Retired& r) { return r.idle_sweeps < kIdleSweeps; });
      retired.erase(retired.begin(), in_use);
      if (!retired.empty()) schedule_sweep();
    });
  }

  struct Retired {
    std::shared_ptr<Generation> gen;
    int idle_sweeps = 0;
  };

  boost::asio::io_context& io;
  std::shared_ptr<const Clock> clock;
  std::shared_ptr<Generation> current;
  std::vector<Retired> retired;
  std::unique_ptr<Metrics> metrics;  // metrics.enabled
  server::Server server;
  std::unique_ptr<queue::MemoryJobs> memory_jobs;  // queue.backend memory (the default)
  std::unique_ptr<queue::RedisJobs> jobs;          // queue.backend redis
  boost::asio::steady_timer sweep_timer;
  bool started = false;
};

App::App(boost::asio::io_context& io, GatewayConfig config) : parts_(std::make_unique<Parts>(io, std::move(config))) {}
App::~App() = default;

void App::start() {
  Parts& p = *parts_;
  p.server.start();
  if (p.jobs) p.jobs->start();
  p.start_cache(p.current->cache.get());
  p.started = true;
  // Who may call, said once at start: an operator reading the log knows
  // whether the port is open to anyone.
  const std::string_view posture = p.current->gatekeeper.posture();
  log::info("auth", {{"posture", posture}, {"keys", p.current->gatekeeper.key_count()}});
  const bool loopback_listener = p.server.listens_on_loopback();
  if (posture == "loopback_only" && !loopback_listener)
    log::warn("auth_loopback_only", {{"detail", "no gateway keys are configured: only clients on this host are served; "
                                                "configure auth.keys (or auth.allow_unauthenticated) to serve others"}});
  if (posture == "unauthenticated" && !loopback_listener)
    log::warn("auth_unauthenticated", {{"detail", "auth.allow_unauthenticated is set and the gateway listens beyond "
                                                  "loopback: anyone who reaches the port can spend the provider keys"}});
}

std::uint16_t App::port() const { return parts_->server.port(); }

// The queue lets its waiting calls go first (503 shutting_down: the client's
// retry finds another replica; a waiting job's run ends the same way), in
// the generations a reload replaced too; the job backend stops taking jobs
// and waits for those running; the server drains its connections.
void App::shutdown(std::function<void()> done) {
  Parts& p = *parts_;
  p.sweep_timer.cancel();
  auto remaining = std::make_shared<int>(2);
  auto one_done = [remaining, done = std::move(done)] {
    if (--*remaining == 0 && done) done();
  };
  for (auto& r : p.retired) r.gen->pipeline.shutdown();
  p.current->pipeline.shutdown();
  // Shared jobs: stop reading; those running finish, or (when the queue
  // refuses them at shutdown) stay pending for another replica. Memory
  // jobs that could not finish are failed: nothing outlives the process.
  if (p.jobs) p.jobs->stop(one_done);
  else p.memory_jobs->stop(one_done);
  p.server.shutdown(one_done);
}

const GatewayConfig& App::config() const noexcept { return parts_->current->config; }

bool App::reload(GatewayConfig next) {
  Parts& p = *parts_;
  const std::string source = next.source;
  if (auto restart = restart_needed(p.current->config, next); !restart.empty()) {
    reload_failed(source, restart);
    return false;
  }
  std::shared_ptr<Generation> fresh;
  const std::shared_ptr<AnswerCache>& old_cache = p.current->cache;
  const bool keep_cache = old_cache->same_settings(next);
  try {
    auto cache = keep_cache ? old_cache : std::make_shared<AnswerCache>(p.io, next, p.clock);
    fresh = std::make_shared<Generation>(p.io, std::move(next), p.clock, std::move(cache));
  } catch (const std::exception& e) {
    reload_failed(source, {ConfigProblem{"", 0, 0, e.what()}});
    return false;
  }
  // From here on nothing can refuse the new configuration: the state the
  // old one shares with it takes its settings.
  std::shared_ptr<Generation> old = std::exchange(p.current, fresh);
  const std::size_t deployments = fresh->pool.carry_over(old->pool, p.clock->now());
  const std::size_t keys = fresh->gatekeeper.carry_over(old->gatekeeper);
  fresh->pipeline.carry_over(old->pipeline);
  p.connect_jobs(*fresh);
  if (p.jobs) p.jobs->add_groups(fresh->job_groups());
  if (p.memory_jobs) p.memory_jobs->set_limits(fresh->config.queue);
  if (p.started) p.start_cache(fresh->cache.get());
  // Certificates rotate with every reload (the files may have changed
  // while the configuration did not); a failure keeps the old ones and is
  // logged as tls_reload_failed.
  if (fresh->config.server.tls) p.server.reload_tls(*fresh->config.server.tls);
  p.server.serve_with(fresh->config, fresh->pipeline, fresh);
  if (p.metrics) {
    p.metrics->reconfigure(fresh->config);
    p.add_gauges();
    p.metrics->count_reload(true);
  }
  const ConfigChanges c = config_changes(old->config, fresh->config);
  p.retire(std::move(old));
  auto n = [](std::size_t v) { return static_cast<std::int64_t>(v); };
  log::info("config_reloaded",
            {{"config", source},
             {"providers_added", n(c.providers.added)}, {"providers_removed", n(c.providers.removed)},
             {"providers_changed", n(c.providers.changed)},
             {"models_added", n(c.models.added)}, {"models_removed", n(c.models.removed)},
             {"models_changed", n(c.models.changed)},
             {"keys_added", n(c.keys.added)}, {"keys_removed", n(c.keys.removed)}, {"keys_changed", n(c.keys.changed)},
             {"routers_added", n(c.routers.added)}, {"routers_removed", n(c.routers.removed)},
             {"deployments_carried", n(deployments)}, {"keys_carried", n(keys)},
             {"cache", !fresh->cache->cache ? "off" : keep_cache ? "kept" : "rebuilt"},
             {"generations", n(p.retired.size() + 1)}});
  return true;
}

void App::reload_failed(const std::string& source, const std::vector<ConfigProblem>& problems) {
  if (parts_->metrics) parts_->metrics->count_reload(false);
  std::string text = format_problems(source, problems);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  log::error("config_reload_failed", {{"config", source},
                                      {"problems", static_cast<std::int64_t>(problems.size())},
                                      {"detail", text},
                                      {"action", "the running configuration stays in use"}});
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
