#include "sluice/pipeline/pipeline.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "cache_stage.hpp"
#include "jobs.hpp"
#include "sluice/core/log.hpp"
#include "wait_line.hpp"

namespace sluice::pipeline {

namespace asio = boost::asio;

namespace {

Error model_not_found(std::string_view model) {
  return make_error(errc::model_not_found,
                    "The model `" + std::string(model) + "` does not exist or you do not have access to it.", "model");
}

// An attempt's failure, with what only the operator may read (Error::detail).
void log_attempt_failed(std::string_view request_id, std::string_view provider, int attempt, const Error& error) {
  log::warn("upstream_attempt_failed", {{"request_id", request_id},
                                        {"provider", provider},
                                        {"error", to_string(error.code)},
                                        {"attempt", attempt},
                                        {"detail", error.logged()}});
}

// Relays a provider's stream whose first events were read ahead, and settles
// the pool lease when it ends: with the real usage on a clean end, as a
// failure when it breaks (logged like any failed attempt; the client gets
// only the error's message). A stream its client abandoned keeps the estimate.
class LeasedStream final : public ChunkStream {
 public:
  LeasedStream(std::unique_ptr<ChunkStream> inner, std::string first, pool::Lease lease,
               providers::RateLimitInfo limits, std::shared_ptr<const Clock> clock, const RequestContext& ctx)
      : inner_(std::move(inner)), first_(std::move(first)), lease_(std::move(lease)), limits_(limits),
        clock_(std::move(clock)), request_id_(ctx.request_id), provider_(ctx.provider), attempt_(ctx.attempts) {}

  asio::awaitable<Result<std::string>> next() override {
    if (first_) {
      std::string out = std::move(*first_);
      first_.reset();
      if (out.empty()) settle_clean_end();
      co_return out;
    }
    auto events = co_await inner_->next();
    if (!events) {
      if (events.error().code != errc::cancelled) {
        lease_.failed(clock_->now(), true);
        log_attempt_failed(request_id_, provider_, attempt_, events.error());
      }
    } else if (events->empty()) {
      settle_clean_end();
    }
    co_return events;
  }

  Usage usage() const override { return inner_->usage(); }

 private:
  void settle_clean_end() {
    lease_.succeeded(inner_->usage(), limits_.remaining_requests, limits_.remaining_tokens, clock_->now());
  }

  std::unique_ptr<ChunkStream> inner_;
  std::optional<std::string> first_;
  pool::Lease lease_;
  providers::RateLimitInfo limits_;
  std::shared_ptr<const Clock> clock_;  // shared: a stream may outlive the gateway's parts
  std::string request_id_, provider_;  // for the log: the stream may outlive its request's context
  int attempt_;
};

// Settles the caller's key lease when the stream it wraps ends: with the
// usage and cost on a clean end or a break (what was streamed was
// produced); a stream its client abandoned keeps the estimate.
class KeyedStream final : public ChunkStream {
 public:
  KeyedStream(std::unique_ptr<ChunkStream> inner, auth::KeyLease lease, std::optional<Price> price)
      : inner_(std::move(inner)), lease_(std::move(lease)), price_(price) {}

  asio::awaitable<Result<std::string>> next() override {
    auto events = co_await inner_->next();
    if (events ? events->empty() : events.error().code != errc::cancelled) {
      const Usage used = inner_->usage();
      lease_.settle(used, price_ ? cost_usd(*price_, used) : 0);
    }
    co_return events;
  }

  Usage usage() const override { return inner_->usage(); }

 private:
  std::unique_ptr<ChunkStream> inner_;
  auth::KeyLease lease_;
  std::optional<Price> price_;
};

}  // namespace

Pipeline::Pipeline(auth::Gatekeeper& gatekeeper, router::ComplexityRouter& router, pool::ProviderPool& pool,
                   ModelCatalog& catalog, ProviderMap& providers, std::shared_ptr<const Clock> clock,
                   std::optional<QueueConfig> queue,
                   std::uint64_t seed)
    : gatekeeper_(gatekeeper),
      router_(router),
      pool_(pool),
      catalog_(catalog),
      providers_(providers),
      clock_(std::move(clock)),
      jitter_(static_cast<std::minstd_rand::result_type>(seed)),
      queue_(std::move(queue)),
      header_names_(router_.header_names()) {
  header_names_.push_back(std::string(kCacheThresholdHeader));
  if (queue_) line_ = std::make_unique<WaitLine>(queue_->max_length);
}

Pipeline::~Pipeline() = default;

Result<auth::Caller> Pipeline::authenticate(std::string_view credential, const asio::ip::address& peer,
                                            RequestContext& ctx) const {
  auto caller = gatekeeper_.authenticate(credential, peer);
  if (caller) {
    ctx.tenant = caller->tenant();
    ctx.key_id = caller->key_id();
  }
  return caller;
}

// The stages, in the order DESIGN.md gives them, after authentication. Each
// one that exists is one call here; the ones still to come (cache, router,
// overflow queue) each add theirs in its place.
asio::awaitable<Result<Answer>> Pipeline::serve(const auth::Caller& caller, Call call, RequestContext& ctx) {
  const LlmRequest& req = call.request;
  ctx.model = req.model;
  if (!executor_) executor_ = co_await asio::this_coro::executor;

  // The caller's own limits: its allow-list and budget, then (a cache
  // miss) its buckets, before any provider's capacity is looked at. A
  // cached answer costs no rate-limit tokens, but never reaches a key that
  // may not use the model.
  if (Status permitted = gatekeeper_.permit(caller, req.model); !permitted) co_return std::move(permitted).error();
  CachePlan plan;
  if (cache_) {
    auto hit = co_await cache_lookup(caller, call, ctx, plan);
    if (!hit) co_return std::move(hit).error();
    if (*hit) co_return std::move(**hit);
  }
  const pool::Demand demand = pool::Demand::of(req);
  auto lease = gatekeeper_.take(caller, demand.prompt_tokens + static_cast<double>(demand.max_tokens.value_or(0)));
  if (!lease) co_return std::move(lease).error();

  // The model group: the router's choice for an alias (the allow-list
  // above saw the alias the client sent), else the model the client named.
  std::optional<router::Route> route = this->route(caller, call, ctx);
  if (!co_await catalog_.resolve(ctx.group, ctx)) {
    lease->refund();
    co_return model_not_found(req.model);
  }

  // Failover over the group's deployments. A routed request whose tier has
  // no capacity at all may go one tier up, if its router says so; never
  // down. Then, when nothing has capacity (or others already wait for the
  // group), the overflow queue, in the group chosen. The group's capacity
  // goes with the answer, whatever it is.
  const bool tier_up = route && route->router->on_no_capacity == NoCapacityPolicy::next_tier_up;
  Result<Answer> answer = make_error(errc::internal, "not served");
  if (may_wait(call) && !tier_up && line_->size(ctx.group) > 0) {
    answer = co_await wait_in_line(caller, call, ctx);
  } else {
    answer = co_await failover(req, ctx.group, ctx);
    while (!answer && answer.error().code == errc::rate_limited && tier_up && router::ComplexityRouter::step_up(*route)) {
      log::debug("route_tier_up", {{"request_id", ctx.request_id}, {"from", ctx.tier}, {"to", route->tier().name}});
      ctx.tier = route->tier().name;
      ctx.group = route->tier().model;
      if (!co_await catalog_.resolve(ctx.group, ctx)) break;
      answer = co_await failover(req, ctx.group, ctx);
    }
    if (!answer && answer.error().code == errc::rate_limited && may_wait(call))
      answer = co_await wait_in_line(caller, call, ctx);
  }
  ctx.limits = pool_.limits(ctx.group, clock_->now());
  if (queue_) wake_drain(ctx.group);  // capacity may have come back (unused tokens)

  // The key's share is settled with what was used: now, or when the stream ends.
  if (!answer) {
    // A request the client cancelled after it was sent keeps the key's
    // estimate charged (the upstream may bill it); the request itself
    // counts against the key's RPM either way: the client made it.
    if (answer.error().code != errc::cancelled || answer.error().unsent) lease->refund();
  } else if (answer->stream) {
    answer->stream = std::make_unique<KeyedStream>(std::move(answer->stream), std::move(lease).value(), ctx.price);
  } else {
    lease->settle(ctx.usage, ctx.cost_usd().value_or(0));
  }
  if (answer && plan.key) co_await cache_store(std::move(plan), *answer, ctx);
  co_return answer;
}

std::optional<router::Route> Pipeline::route(const auth::Caller& caller, const Call& call, RequestContext& ctx) const {
  ctx.group = call.request.model;
  std::optional<router::Route> route = router_.route({call.request, caller.tenant(), call.headers});
  if (!route) return route;
  ctx.tier = route->tier().name;
  ctx.group = route->tier().model;
  ctx.route_decision = route->decided_tier().name;
  ctx.route_reason = route->reason;
  ctx.route_score = route->score;
  if (route->router->shadow)
    log::debug("route_shadow", {{"request_id", ctx.request_id}, {"alias", route->router->alias},
                               {"decided", ctx.route_decision}, {"served", ctx.tier}, {"reason", ctx.route_reason}});
  return route;
}

asio::awaitable<Result<std::optional<Answer>>> Pipeline::count_tokens(const auth::Caller& caller, Call call,
                                                                       RequestContext& ctx) {
  const LlmRequest& req = call.request;
  ctx.model = req.model;
  auto lease = gatekeeper_.admit(caller, req.model, 0);
  if (!lease) co_return std::move(lease).error();
  lease->settle(Usage{}, 0);  // one request; counting generates nothing
  ctx.group = req.model;
  if (!co_await catalog_.resolve(ctx.group, ctx)) co_return model_not_found(req.model);

  const pool::Demand nothing{.prompt_tokens = 0, .max_tokens = std::nullopt, .completes = false};
  for (pool::Deployment* dep : pool_.candidates(ctx.group, nothing, clock_->now())) {
    auto it = providers_.find(dep->provider_name());
    if (it == providers_.end() || !it->second->speaks(Endpoint::count_tokens)) continue;
    ctx.provider = dep->provider_name();
    ctx.upstream_model = dep->model;
    ++ctx.attempts;
    const auto sent = clock_->now();
    auto response = co_await it->second->complete(req, dep->model, ctx);
    ctx.upstream_time = clock_->now() - sent;
    if (!response) co_return std::move(response).error();
    Answer answer;
    answer.status = response->status;
    answer.headers = std::move(response->headers);
    answer.body = std::move(response->body);
    answer.format = Endpoint::count_tokens;
    co_return std::optional<Answer>(std::move(answer));
  }
  co_return std::optional<Answer>();
}

asio::awaitable<std::vector<ModelEntry>> Pipeline::models(const auth::Caller& caller, RequestContext& ctx) {
  std::vector<ModelEntry> models = co_await catalog_.list(ctx);
  for (std::string& alias : router_.aliases()) models.push_back({std::move(alias), "sluice"});
  std::erase_if(models, [&](const ModelEntry& m) { return !caller.may_use(m.id); });
  co_return models;
}

asio::awaitable<Result<Answer>> Pipeline::failover(const LlmRequest& req, std::string_view group, RequestContext& ctx,
                                                   pool::Lease granted) {
  const pool::Demand demand = pool::Demand::of(req);
  std::vector<pool::Deployment*> tried;   // not to be chosen again by this request...
  std::vector<pool::Deployment*> failed;  // ...except these, after a backoff, while retries last
  std::optional<Error> last;
  int retries = 0;
  for (;;) {
    pool::Lease lease = granted ? std::move(granted) : pool_.acquire(group, demand, clock_->now(), tried, failed);
    if (!lease) break;
    pool::Deployment& dep = lease.deployment();
    auto answer = co_await attempt(req, lease, ctx);
    if (answer) co_return answer;
    Error error = std::move(answer).error();
    const auto now = clock_->now();
    if (error.code == errc::cancelled) {
      // Sent: the upstream may bill it, the lease keeps its estimate. Not
      // sent (the client left while connecting): nothing to bill.
      if (error.unsent) lease.unsent(now);
      co_return error;
    }
    if (std::find(tried.begin(), tried.end(), &dep) == tried.end()) tried.push_back(&dep);
    if (error.code == errc::upstream_rate_limited) {
      // That deployment sits out its Retry-After; the next candidate is tried at once.
      lease.rate_limited(std::chrono::milliseconds(error.retry_after_ms), now);
      ++ctx.cooldowns;
      last = std::move(error);
      continue;
    }
    if (error.code == errc::upstream_auth) {
      // The provider refused the gateway's own credentials: this deployment
      // would refuse every retry, another account may serve at once. An
      // operator must fix the key; the line names the provider, never the key.
      lease.credentials_refused(now);
      log::error("upstream_credentials_refused", {{"request_id", ctx.request_id},
                                                  {"provider", ctx.provider},
                                                  {"status", error.upstream_status}});
      last = std::move(error);
      continue;
    }
    if (!error.fails_over()) {  // the request itself was refused, or a bug: it would fail the same everywhere
      lease.rejected(now);
      if (error.code == errc::internal) log_attempt_failed(ctx.request_id, ctx.provider, ctx.attempts, error);
      co_return error;
    }
    lease.failed(now);
    log_attempt_failed(ctx.request_id, ctx.provider, ctx.attempts, error);
    if (retries >= dep.provider->config->max_retries) {
      error.retries_spent = ctx.attempts > 1;
      co_return error;
    }
    if (std::find(failed.begin(), failed.end(), &dep) == failed.end()) failed.push_back(&dep);
    last = std::move(error);
    ++retries;
    ++ctx.retries;
    if (!co_await back_off(retries, ctx)) co_return make_error(errc::cancelled, "client disconnected");
  }

  // Nothing could take the request. A real failure says what happened; when
  // everything is merely busy, the client learns when capacity returns.
  if (last && last->code != errc::upstream_rate_limited) {
    last->retries_spent = ctx.attempts > 1;
    co_return std::move(*last);
  }
  const auto wait = pool_.wait_hint(group, demand, clock_->now());
  Error busy = make_error(errc::rate_limited, "Every deployment of model `" + req.model +
                                                  "` is at its rate limit or cooling down; retry after " +
                                                  std::to_string(retry_after_seconds(wait)) + " s.");
  busy.retry_after_ms = retry_after_ms(wait);
  co_return busy;
}

asio::awaitable<Result<Answer>> Pipeline::attempt(const LlmRequest& req, pool::Lease& lease, RequestContext& ctx) {
  pool::Deployment& dep = lease.deployment();
  auto it = providers_.find(dep.provider_name());
  if (it == providers_.end()) co_return make_error(errc::internal, "provider '" + dep.provider_name() + "' is not running");
  providers::Provider& provider = *it->second;
  ctx.provider = dep.provider_name();
  ctx.upstream_model = dep.model;
  ctx.price = dep.price;
  // A dialect the provider does not speak goes as its chat-completions
  // translation, and the answer comes back as chat completions.
  const LlmRequest* request = &req;
  if (!provider.speaks(req.endpoint)) {
    if (req.as_chat) request = req.as_chat.get();
    else if (req.untranslatable) co_return *req.untranslatable;
  }
  ++ctx.attempts;
  const auto sent = clock_->now();

  Answer answer;
  answer.format = request->endpoint;
  if (request->stream && request->endpoint != Endpoint::embeddings) {
    auto started = co_await provider.stream(*request, dep.model, ctx);
    if (!started) co_return std::move(started).error();
    // The first events are read before answering: until a byte reached the
    // client, a failure may still go to the next deployment.
    auto first = co_await started->stream->next();
    ctx.upstream_time = clock_->now() - sent;
    if (!first) co_return std::move(first).error();
    answer.headers = std::move(started->headers);
    answer.stream = std::make_unique<LeasedStream>(std::move(started->stream), std::move(first).value(),
                                                   std::move(lease), started->limits, clock_, ctx);
  } else {
    auto response = co_await provider.complete(*request, dep.model, ctx);
    ctx.upstream_time = clock_->now() - sent;
    if (!response) co_return std::move(response).error();
    lease.succeeded(response->usage, response->limits.remaining_requests, response->limits.remaining_tokens,
                    clock_->now());
    ctx.usage = response->usage;
    answer.status = response->status;
    answer.headers = std::move(response->headers);
    answer.body = std::move(response->body);
    answer.usage = response->usage;
  }
  co_return answer;
}

asio::awaitable<bool> Pipeline::back_off(int retry, RequestContext& ctx) {
  // Exponential with "equal jitter": half fixed, half random, so retries of
  // many requests that failed together spread out.
  using Micros = std::chrono::duration<double, std::micro>;
  const pool::PoolPolicy& policy = pool_.policy();
  const double ceiling = std::min(Micros(policy.backoff_max).count(),
                                  Micros(policy.backoff_base).count() * static_cast<double>(1 << std::min(retry - 1, 20)));
  const double wait = ceiling / 2 + std::uniform_real_distribution<double>(0, ceiling / 2)(jitter_);
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           std::chrono::microseconds(static_cast<std::int64_t>(wait)));
  auto registration = ctx.cancellation.on_cancel([&timer] { timer.cancel(); });
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return !ctx.cancellation.cancelled();
}

}  // namespace sluice::pipeline
