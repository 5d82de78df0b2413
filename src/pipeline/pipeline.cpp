#include "sluice/pipeline/pipeline.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sluice/core/json_text.hpp"
#include "sluice/core/log.hpp"
#include "sluice/net/sse.hpp"
#include "sluice/pipeline/wire.hpp"
#include "model_catalog.hpp"

namespace sluice::pipeline {

namespace asio = boost::asio;

namespace {

struct Route {
  std::string_view path;
  Endpoint endpoint;
};
constexpr Route kLlmRoutes[] = {
    {"/v1/chat/completions", Endpoint::chat_completions},
    {"/v1/completions", Endpoint::completions},
    {"/v1/embeddings", Endpoint::embeddings},
};

std::string model_object(const ModelEntry& model) {
  std::string out = R"({"id":)";
  append_json_string(out, model.id);
  out += R"(,"object":"model","created":0,"owned_by":)";
  append_json_string(out, model.owned_by);
  out += '}';
  return out;
}

Error model_not_found(std::string_view model) {
  return make_error(errc::model_not_found,
                    "The model `" + std::string(model) + "` does not exist or you do not have access to it.", "model");
}

// Relays a provider's stream whose first events were read ahead, and settles
// the pool lease when it ends: with the real usage on a clean end, as a
// failure when it breaks. A stream its client abandoned keeps the estimate.
class LeasedStream final : public providers::ChunkStream {
 public:
  LeasedStream(std::unique_ptr<providers::ChunkStream> inner, std::string first, pool::Lease lease,
               providers::RateLimitInfo limits)
      : inner_(std::move(inner)), first_(std::move(first)), lease_(std::move(lease)), limits_(limits) {}

  asio::awaitable<Result<std::string>> next() override {
    if (first_) {
      std::string out = std::move(*first_);
      first_.reset();
      if (out.empty()) settle_clean_end();
      co_return out;
    }
    auto events = co_await inner_->next();
    if (!events) {
      if (events.error().code != errc::cancelled) lease_.failed(pool::Clock::now(), true);
    } else if (events->empty()) {
      settle_clean_end();
    }
    co_return events;
  }

  Usage usage() const override { return inner_->usage(); }

 private:
  void settle_clean_end() {
    lease_.succeeded(inner_->usage(), limits_.remaining_requests, limits_.remaining_tokens, pool::Clock::now());
  }

  std::unique_ptr<providers::ChunkStream> inner_;
  std::optional<std::string> first_;
  pool::Lease lease_;
  providers::RateLimitInfo limits_;
};

}  // namespace

Pipeline::Pipeline(const GatewayConfig& config, ProviderMap& providers, pool::PoolPolicy policy, std::uint64_t seed)
    : config_(config),
      providers_(providers),
      pool_(config, pool::Clock::now(), policy, seed),
      catalog_(std::make_unique<ModelCatalog>(config, providers, pool_)),
      jitter_(static_cast<std::minstd_rand::result_type>(seed)) {}

Pipeline::~Pipeline() = default;

asio::awaitable<Reply> Pipeline::handle(ApiRequest request, RequestContext& ctx) {
  for (const Route& r : kLlmRoutes) {
    if (request.path != r.path) continue;
    if (request.method != "POST")
      co_return error_reply(make_error(errc::method_not_allowed, "Use POST for " + std::string(r.path)));
    co_return co_await dispatch(r.endpoint, std::move(request.body), ctx);
  }
  if (request.path == "/v1/models" && request.method == "GET") co_return co_await list_models(ctx);
  if (request.path.starts_with("/v1/models/") && request.method == "GET") {
    const std::string id = request.path.substr(11);
    co_return co_await get_model(id, ctx);
  }
  co_return error_reply(make_error(errc::not_found, "Invalid URL (" + request.method + " " + request.path + ")"));
}

asio::awaitable<Reply> Pipeline::dispatch(Endpoint endpoint, std::string body, RequestContext& ctx) {
  auto parsed = parse_request(endpoint, std::move(body));
  if (!parsed) co_return error_reply(std::move(parsed).error());
  const LlmRequest& req = *parsed;
  ctx.model = req.model;
  if (!pool_.has_group(req.model) && !co_await catalog_->resolve(req.model, ctx))
    co_return error_reply(model_not_found(req.model));

  const pool::Demand demand = pool::Demand::of(req);
  std::vector<pool::Deployment*> tried;   // not to be chosen again by this request...
  std::vector<pool::Deployment*> failed;  // ...except these, after a backoff, while retries last
  std::optional<Error> last;
  int retries = 0;
  for (;;) {
    pool::Lease lease = pool_.acquire(req.model, demand, pool::Clock::now(), tried, failed);
    if (!lease) break;
    pool::Deployment& dep = lease.deployment();
    auto reply = co_await attempt(req, lease, ctx);
    if (reply) {
      add_limit_headers(*reply, req.model);
      co_return std::move(reply).value();
    }
    Error error = std::move(reply).error();
    const auto now = pool::Clock::now();
    if (error.code == errc::cancelled) co_return error_reply(std::move(error));  // the lease keeps its estimate
    if (std::find(tried.begin(), tried.end(), &dep) == tried.end()) tried.push_back(&dep);
    if (error.code == errc::upstream_rate_limited) {
      // That deployment sits out its Retry-After; the next candidate is tried at once.
      lease.rate_limited(std::chrono::milliseconds(error.retry_after_ms), now);
      ++ctx.cooldowns;
      last = std::move(error);
      continue;
    }
    if (!error.retryable()) {  // the request itself was refused: another deployment would refuse it too
      lease.rejected(now);
      co_return error_reply(std::move(error));
    }
    lease.failed(now);
    log::warn("upstream_attempt_failed", {{"request_id", ctx.request_id},
                                          {"provider", ctx.provider},
                                          {"error", to_string(error.code)},
                                          {"attempt", ctx.attempts}});
    if (retries >= dep.provider->config->max_retries) co_return error_reply(std::move(error));
    if (std::find(failed.begin(), failed.end(), &dep) == failed.end()) failed.push_back(&dep);
    last = std::move(error);
    ++retries;
    ++ctx.retries;
    if (!co_await back_off(retries, ctx)) co_return error_reply(make_error(errc::cancelled, "client disconnected"));
  }

  // Nothing could take the request. A real failure says what happened; when
  // everything is merely busy, the client learns when capacity returns.
  if (last && last->code != errc::upstream_rate_limited) co_return error_reply(std::move(*last));
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(pool_.wait_hint(req.model, demand, pool::Clock::now()));
  Error busy = make_error(errc::rate_limited, "Every deployment of model `" + req.model +
                                                  "` is at its rate limit or cooling down; retry after " +
                                                  std::to_string((wait.count() + 999) / 1000) + " s.");
  busy.retry_after_ms = std::max<std::int64_t>(wait.count(), 1);
  Reply reply = error_reply(std::move(busy));
  add_limit_headers(reply, req.model);
  co_return reply;
}

asio::awaitable<Result<Reply>> Pipeline::attempt(const LlmRequest& req, pool::Lease& lease, RequestContext& ctx) {
  pool::Deployment& dep = lease.deployment();
  auto it = providers_.find(dep.provider_name());
  if (it == providers_.end()) co_return make_error(errc::internal, "provider '" + dep.provider_name() + "' is not running");
  providers::Provider& provider = *it->second;
  ctx.provider = dep.provider_name();
  ctx.upstream_model = dep.model;
  ++ctx.attempts;
  const auto sent = RequestContext::Clock::now();

  Reply reply;
  if (req.stream && req.endpoint != Endpoint::embeddings) {
    auto started = co_await provider.stream(req, dep.model, ctx);
    if (!started) co_return std::move(started).error();
    // The first events are read before answering: until a byte reached the
    // client, a failure may still go to the next deployment.
    auto first = co_await started->stream->next();
    ctx.upstream_time = RequestContext::Clock::now() - sent;
    if (!first) co_return std::move(first).error();
    reply.content_type = "text/event-stream";
    reply.headers = std::move(started->headers);
    reply.stream = std::make_unique<LeasedStream>(std::move(started->stream), std::move(first).value(),
                                                  std::move(lease), started->limits);
  } else {
    auto answer = co_await provider.complete(req, dep.model, ctx);
    ctx.upstream_time = RequestContext::Clock::now() - sent;
    if (!answer) co_return std::move(answer).error();
    lease.succeeded(answer->usage, answer->limits.remaining_requests, answer->limits.remaining_tokens,
                    pool::Clock::now());
    ctx.usage = answer->usage;
    reply.status = answer->status;
    reply.headers = std::move(answer->headers);
    reply.body = std::move(answer->body);
    if (req.endpoint == Endpoint::embeddings)
      if (auto converted = convert_embeddings(reply.body, req.encoding_format)) reply.body = std::move(*converted);
  }
  reply.headers.push_back({"x-sluice-provider", ctx.provider});
  reply.headers.push_back({"x-sluice-model", ctx.upstream_model});
  co_return reply;
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

void Pipeline::add_limit_headers(Reply& reply, std::string_view group) {
  const pool::GroupLimits limits = pool_.limits(group, pool::Clock::now());
  if (!limits.limit_requests && !limits.limit_tokens) return;
  // The group's limits replace the upstream's own: a client of the gateway
  // sees the capacity of the model group, not of one account behind it.
  std::erase_if(reply.headers, [](const net::Header& h) { return h.name.starts_with("x-ratelimit-"); });
  auto add = [&](const char* name, std::optional<std::int64_t> value) {
    if (value) reply.headers.push_back({name, std::to_string(*value)});
  };
  add("x-ratelimit-limit-requests", limits.limit_requests);
  add("x-ratelimit-remaining-requests", limits.remaining_requests);
  add("x-ratelimit-limit-tokens", limits.limit_tokens);
  add("x-ratelimit-remaining-tokens", limits.remaining_tokens);
}

asio::awaitable<Reply> Pipeline::list_models(RequestContext& ctx) {
  const std::vector<ModelEntry> models = co_await catalog_->list(ctx);
  Reply reply;
  reply.body = R"({"object":"list","data":[)";
  for (std::size_t i = 0; i < models.size(); ++i) {
    if (i) reply.body += ',';
    reply.body += model_object(models[i]);
  }
  reply.body += "]}";
  co_return reply;
}

asio::awaitable<Reply> Pipeline::get_model(const std::string& id, RequestContext& ctx) {
  const std::vector<ModelEntry> models = co_await catalog_->list(ctx);
  auto it = std::find_if(models.begin(), models.end(), [&](const ModelEntry& m) { return m.id == id; });
  if (it == models.end()) co_return error_reply(model_not_found(id));
  Reply reply;
  reply.body = model_object(*it);
  co_return reply;
}

Reply Pipeline::error_reply(Error error) {
  Reply reply;
  reply.status = error.status();
  reply.body = error_body(error);
  reply.headers.push_back({"x-should-retry", error.retryable() ? "true" : "false"});
  if (reply.status == 429 || reply.status == 503) {
    // Whole seconds for Retry-After (rounded up: never invite a retry too
    // early); the OpenAI SDKs prefer the exact retry-after-ms when present.
    const std::int64_t ms = error.retry_after_ms >= 0 ? error.retry_after_ms : 1000;
    reply.headers.push_back({"retry-after", std::to_string((ms + 999) / 1000)});
    reply.headers.push_back({"retry-after-ms", std::to_string(ms)});
  }
  reply.error = std::move(error);
  return reply;
}

std::string Pipeline::stream_error_event(const Error& error) { return net::sse_event(error_body(error)); }

}  // namespace sluice::pipeline
