// Pipeline: the fixed order of stages one call goes through, written once in
// serve(). It takes a Call (a parsed, provider-neutral request, whatever the
// inbound dialect) and returns data: a complete answer or a stream, never
// HTTP. The front door renders the answer; a drain loop can run the same
// stages for a queued call.
//
// Stages do not call each other; the pipeline owns the order. It owns none of
// them either: the composition root builds the gatekeeper, the pool, the
// model catalog, the providers and the clock and hands them in, so tests
// inject fakes.
//
// Authentication comes first and apart: authenticate() answers who is
// calling before the request body is even parsed, and serve() and models()
// take its Caller, so nothing is served to a caller that was not checked.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <optional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "sluice/auth/gatekeeper.hpp"
#include "sluice/cache/cache.hpp"

#include "sluice/core/answer.hpp"
#include "sluice/core/call.hpp"
#include "sluice/core/clock.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/request_context.hpp"
#include "sluice/core/request_summary.hpp"
#include "sluice/pipeline/job.hpp"
#include "sluice/pipeline/model_catalog.hpp"
#include "sluice/pool/provider_pool.hpp"
#include "sluice/providers/provider.hpp"
#include "sluice/queue/job_backend.hpp"
#include "sluice/router/router.hpp"

namespace sluice::pipeline {

// Model `model` of `providers`' `provider` (an OpenAI-compatible
// /v1/embeddings deployment) as the semantic cache's embedder: each
// embedding is one request to it, cancelled after `timeout` (the cache then
// takes a miss). Its dimensions are known from its first answer. The
// provider must outlive the returned object. Throws std::runtime_error when
// there is no such provider (the config loader checks the name).
std::unique_ptr<cache::Embedding> remote_embedding(ProviderMap& providers, const std::string& provider,
                                                   std::string model, std::chrono::milliseconds timeout);

class WaitLine;
struct Ticket;

// The overflow queue as /metrics shows it: how many wait now, and how the
// waits and the in-process async jobs ended since start.
struct QueueStats {
  std::size_t waiting = 0;          // held requests in the line now
  std::uint64_t served = 0;         // held requests whose turn came
  std::uint64_t expired = 0;        // held requests that reached their max_wait without a turn
  std::uint64_t cancelled = 0;      // held requests whose client left
  std::uint64_t shutdown = 0;       // held requests sent away at shutdown
  std::uint64_t rejected = 0;       // requests refused because the line was full
};

class Pipeline {
 public:
  // The references must outlive the pipeline; streams it returned may
  // outlive it (they share the clock and their pool deployment). `seed`
  // drives the backoff jitter.
  // `queue` unset: no overflow queue, a call that finds no capacity gets
  // rate_limited at once.
  Pipeline(auth::Gatekeeper& gatekeeper, router::ComplexityRouter& router, pool::ProviderPool& pool,
           ModelCatalog& catalog, ProviderMap& providers, std::shared_ptr<const Clock> clock,
           std::optional<QueueConfig> queue = std::nullopt, std::uint64_t seed = std::random_device{}());
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // The authentication stage: who presents `credential` (the gateway key
  // from the request's headers, "" when none) from `peer`. Sets ctx.tenant
  // and ctx.key_id. Errors: unauthorized, peer_not_allowed.
  Result<auth::Caller> authenticate(std::string_view credential, const boost::asio::ip::address& peer,
                                    RequestContext& ctx) const;

  // Serves one call for `caller`. Fills ctx with what was decided on the way
  // (group, tier and route, provider, attempts, usage, price, the group's
  // limits). A router alias is checked against the caller's allow-list as
  // sent, then routed to its tier's group; a tier without capacity goes one
  // tier up when its router says next_tier_up, never down. Errors:
  // model_not_allowed, budget_exceeded, rate_limited (the key's own limits,
  // before any provider is asked); model_not_found;
  // rate_limited when no deployment has capacity (retry_after_ms says when
  // one will) and the call may not wait, or waited in the overflow queue
  // until its deadline, or the queue is full; the last upstream error when
  // failover gave up (retries_spent
  // when the gateway retried); cancelled when the client left. Never throws
  // for a client's mistake or an upstream failure.
  //
  // With a queue, a call that finds no capacity (or finds others of its
  // group already waiting) waits its turn in the overflow queue, up to its
  // max_wait; ctx.queued says how long. A stream that waits longer than
  // queue.keepalive_interval is answered at once with a stream that yields
  // ": queued" comments until its turn, then the answer's events.
  boost::asio::awaitable<Result<Answer>> serve(const auth::Caller& caller, Call call, RequestContext& ctx);

  // Prefer: respond-async: the call becomes a job served in the background
  // (through serve, queue included); its id is returned at once. Errors:
  // rate_limited when the queue holds queue.max_length unfinished jobs,
  // bad_request without a queue.
  boost::asio::awaitable<Result<std::string>> submit(const auth::Caller& caller, Call call, RequestContext& ctx);
  // The job `id` of the caller's tenant; nullopt for another tenant's or an
  // unknown (or expired) one; redis_unavailable when the job backend cannot
  // be asked.
  boost::asio::awaitable<Result<std::optional<Job>>> job(const auth::Caller& caller, const std::string& id);

  // Where async jobs go (queue::MemoryJobs or queue::RedisJobs; it must
  // outlive the pipeline's use of it); without one, Prefer: respond-async is
  // refused. Held requests wait in this process's line either way.
  void set_job_backend(queue::JobBackend* backend) noexcept { job_backend_ = backend; }

  // An async job's run ended here (either backend): the job_finished log
  // line, then `observer` with its summary (method "JOB", the path it was
  // submitted to, its usage and cost), which the composition root writes to
  // the access log and the metrics: a job's tokens count like a request's.
  using JobObserver = std::function<void(const RequestSummary&)>;
  void set_job_observer(JobObserver observer) { job_observer_ = std::move(observer); }
  void job_finished(const RequestContext& ctx, Endpoint endpoint, std::size_t bytes_in,
                    const Result<Answer>& answer) const;

  // A configuration reload: this pipeline takes over `previous`'s queue
  // counters, so the metrics' counters do not start again from zero. The
  // calls still waiting in `previous`'s line are served there; async jobs
  // live in the job backend, which outlives both.
  void carry_over(Pipeline& previous);
  // Nothing runs here: no request waits in its line and no drain loop
  // runs. A retired pipeline may be destroyed then.
  bool idle() const noexcept;

  // The answer cache (pipeline/cache_stage.cpp): looked up after the
  // caller's allow-list and budget, before routing and before the key's
  // rate-limit tokens are taken (a hit costs neither them nor provider
  // capacity); a complete 2xx answer is stored (a stream once its terminal
  // event went by). `cache` must outlive the pipeline and its streams.
  void set_cache(cache::Cache* cache, CacheConfig config);

  // Stops the queue: waiting calls (an async job's run among them) get
  // shutting_down at once, new async jobs are refused. Calls already
  // upstream finish; the job backend's stop() waits for its jobs.
  void shutdown();

  // The overflow queue's figures now (all zero without a queue).
  QueueStats queue_stats() const noexcept;

  // POST /v1/messages/count_tokens for `caller`: the input tokens of `call`
  // (an Anthropic Messages request, endpoint count_tokens) as the group's
  // first eligible deployment able to count them says (one whose provider
  // speaks count_tokens: Anthropic's), in that provider's answer. No pool
  // lease is taken (Anthropic limits token counting apart from messages)
  // and no failover is tried; the caller's key counts one request. nullopt
  // when no deployment of the group can count: the front door answers its
  // own estimate. Errors: model_not_allowed, budget_exceeded, rate_limited
  // (the key's), model_not_found, and the provider's.
  boost::asio::awaitable<Result<std::optional<Answer>>> count_tokens(const auth::Caller& caller, Call call,
                                                                     RequestContext& ctx);

  // The models `caller` may ask for (GET /v1/models): the catalog and the
  // router aliases, less what the caller's key does not allow.
  boost::asio::awaitable<std::vector<ModelEntry>> models(const auth::Caller& caller, RequestContext& ctx);

  // The request headers the stages read (router rules), lower case: the
  // front door copies these, and only these, into Call::headers.
  // The cache stage's x-sluice-cache-threshold is one of them.
  const std::vector<std::string>& header_names() const noexcept { return header_names_; }

 private:
  // Walks the group's deployments: the pool's weighted order, the next one at
  // once after a 429, after a backoff after a failure, while retries last.
  // `granted`: a lease the drain loop acquired for this call, used first.
  boost::asio::awaitable<Result<Answer>> failover(const LlmRequest& req, std::string_view group,
                                                  RequestContext& ctx, pool::Lease granted = {});
  // One attempt on one deployment: the answer, or the error that decides what next.
  boost::asio::awaitable<Result<Answer>> attempt(const LlmRequest& req, pool::Lease& lease, RequestContext& ctx);
  boost::asio::awaitable<bool> back_off(int retry, RequestContext& ctx);

  // The cache stage (pipeline/cache_stage.cpp). A plan is what a lookup
  // decided for the rest of the request: whether, and under which key, its
  // answer is stored.
  struct CachePlan {
    std::optional<cache::Key> key;  // set: store a complete 2xx answer
    std::vector<float> vector;      // the prompt's embedding from the lookup
  };
  // A hit as the answer, nullopt for a miss or a bypass (ctx.cache says
  // which). Errors: bad_request for a malformed x-sluice-cache-threshold.
  boost::asio::awaitable<Result<std::optional<Answer>>> cache_lookup(const auth::Caller& caller, const Call& call,
                                                                     RequestContext& ctx, CachePlan& plan);
  // Stores `answer` when it may be (now, or a stream as it ends cleanly).
  boost::asio::awaitable<void> cache_store(CachePlan plan, Answer& answer, RequestContext& ctx);

  // The overflow queue (pipeline/queue.cpp).
  class QueuedStream;
  struct Drain;
  bool may_wait(const Call& call) const;
  std::chrono::milliseconds max_wait(const Call& call) const;
  // Joins the line and waits for the turn up to `max_wait` (a stream: up to
  // the keep-alive interval, then answers with a QueuedStream).
  boost::asio::awaitable<Result<Answer>> wait_in_line(const auth::Caller& caller, const Call& call,
                                                      RequestContext& ctx);
  // Waits on the ticket until the turn, `limit`, the client leaving or shutdown.
  boost::asio::awaitable<void> await_turn(const std::shared_ptr<Ticket>& ticket, std::chrono::steady_clock::duration limit,
                                          RequestContext& ctx);
  Error queue_error(const std::shared_ptr<Ticket>& ticket, const LlmRequest& req, RequestContext& ctx);
  void wake_drain(const std::string& group);
  boost::asio::awaitable<void> drain(std::string group, std::shared_ptr<Drain> state);
  // The routing stage: an alias -> a tier's group in ctx; the route, for
  // going one tier up. nullopt for an explicit model.
  std::optional<router::Route> route(const auth::Caller& caller, const Call& call, RequestContext& ctx) const;

  auth::Gatekeeper& gatekeeper_;
  router::ComplexityRouter& router_;
  pool::ProviderPool& pool_;
  ModelCatalog& catalog_;
  ProviderMap& providers_;
  std::shared_ptr<const Clock> clock_;
  std::minstd_rand jitter_;
  std::optional<QueueConfig> queue_;
  cache::Cache* cache_ = nullptr;
  CacheConfig cache_config_;
  std::vector<std::string> header_names_;
  std::unique_ptr<WaitLine> line_;
  QueueStats queue_counts_;  // the counters of queue_stats()
  queue::JobBackend* job_backend_ = nullptr;
  std::map<std::string, std::shared_ptr<Drain>, std::less<>> drains_;  // groups with a drain loop running
  JobObserver job_observer_;
  bool stopping_ = false;
  boost::asio::any_io_executor executor_;  // the loop's, taken from the first call served
};

}  // namespace sluice::pipeline
