// The overflow queue's side of the pipeline: a call that finds no capacity
// waits its turn in the WaitLine; one drain loop per model group with
// waiters hands each turn the lease it acquired, waking when the pool says
// capacity returns, never polling faster than that; async jobs
// (Prefer: respond-async) are handed to the job backend (queue::MemoryJobs
// or queue::RedisJobs), whose runner brings them back through serve().
#include <algorithm>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "jobs.hpp"
#include "sluice/core/log.hpp"
#include "sluice/pipeline/pipeline.hpp"
#include "wait_line.hpp"

namespace sluice::pipeline {

namespace asio = boost::asio;
using SteadyTime = std::chrono::steady_clock;

namespace {

constexpr auto kMinDrainSleep = std::chrono::milliseconds(5);
// Bounds how long a drain loop trusts the pool's hint: tokens given back
// early (an answer shorter than its estimate) are noticed within this.
constexpr auto kMaxDrainSleep = std::chrono::seconds(1);
constexpr std::string_view kKeepAlive = ": queued\n\n";

// 429 for a queue at its bound: retry once capacity may be back, in a second at least.
Error queue_full(std::size_t max_length, std::string_view what, Clock::duration capacity_in) {
  Error full = make_error(errc::rate_limited, "The overflow queue is full (" + std::to_string(max_length) + " " +
                                                  std::string(what) + " wait already); retry later.");
  full.retry_after_ms = std::max<std::int64_t>(1000, retry_after_ms(capacity_in));
  return full;
}

}  // namespace

struct Pipeline::Drain {
  explicit Drain(asio::any_io_executor executor) : timer(std::move(executor)) {}
  asio::steady_timer timer;
};

// A stream answered before its turn came: ": queued" comments while it
// waits, then the events of the answer it gets. Once its head is out a
// failure (the deadline, shutdown) can only be an SSE error event. It
// refers to the request's context, which the front door keeps while it
// writes the stream.
class Pipeline::QueuedStream final : public ChunkStream {
 public:
  QueuedStream(Pipeline& pipeline, std::shared_ptr<Ticket> ticket, LlmRequest req, RequestContext& ctx,
               SteadyTime::time_point joined, SteadyTime::time_point deadline)
      : pipeline_(pipeline), ticket_(std::move(ticket)), req_(std::move(req)), ctx_(ctx), joined_(joined),
        deadline_(deadline) {}

  ~QueuedStream() override {
    if (ticket_ && ticket_->in_line) pipeline_.line_->leave(*ticket_);
  }

  asio::awaitable<Result<std::string>> next() override {
    if (inner_) co_return co_await inner_->next();
    if (std::exchange(first_, false)) co_return std::string(kKeepAlive);  // the head goes out now
    for (;;) {
      const auto left = deadline_ - SteadyTime::now();
      co_await pipeline_.await_turn(ticket_, std::min<SteadyTime::duration>(left, pipeline_.queue_->keepalive_interval), ctx_);
      if (ticket_->granted || ctx_.cancellation.cancelled() || pipeline_.stopping_ || SteadyTime::now() >= deadline_)
        break;
      co_return std::string(kKeepAlive);
    }
    ctx_.queued = SteadyTime::now() - joined_;
    if (!ticket_->granted || !ticket_->lease || ctx_.cancellation.cancelled())
      co_return pipeline_.queue_error(ticket_, req_, ctx_);
    auto answer = co_await pipeline_.failover(req_, ticket_->group, ctx_, std::move(ticket_->lease));
    ticket_.reset();
    if (!answer) co_return std::move(answer).error();
    if (!answer->stream) co_return make_error(errc::internal, "a queued stream was answered without a stream");
    inner_ = std::move(answer->stream);
    co_return co_await inner_->next();
  }

  Usage usage() const override { return inner_ ? inner_->usage() : Usage{}; }

 private:
  Pipeline& pipeline_;
  std::shared_ptr<Ticket> ticket_;
  LlmRequest req_;
  RequestContext& ctx_;
  SteadyTime::time_point joined_, deadline_;
  std::unique_ptr<ChunkStream> inner_;
  bool first_ = true;
};

bool Pipeline::may_wait(const Call& call) const {
  return queue_ && !stopping_ && max_wait(call).count() > 0;
}

std::chrono::milliseconds Pipeline::max_wait(const Call& call) const {
  if (!queue_) return {};
  return std::min(call.max_wait.value_or(queue_->max_wait), queue_->max_wait);
}

asio::awaitable<Result<Answer>> Pipeline::wait_in_line(const auth::Caller& caller, const Call& call,
                                                       RequestContext& ctx) {
  const LlmRequest& req = call.request;
  const Priority priority = std::min(call.priority, caller.max_priority());
  auto ticket = std::make_shared<Ticket>(co_await asio::this_coro::executor, ctx.group, ctx.tenant, priority,
                                         pool::Demand::of(req));
  if (!line_->join(ticket)) {
    ++queue_counts_.rejected;
    co_return queue_full(queue_->max_length, "requests", pool_.wait_hint(ctx.group, ticket->demand, clock_->now()));
  }
  wake_drain(ctx.group);
  const auto joined = SteadyTime::now();
  const auto deadline = joined + max_wait(call);
  const bool streams = req.stream && req.endpoint != Endpoint::embeddings;
  const auto first_wait = streams ? std::min<SteadyTime::duration>(queue_->keepalive_interval, deadline - joined)
                                  : deadline - joined;
  co_await await_turn(ticket, first_wait, ctx);
  if (!ticket->granted && streams && !ctx.cancellation.cancelled() && !stopping_ && SteadyTime::now() < deadline) {
    // Still waiting: the head goes out now, then keep-alives until the turn.
    Answer answer;
    answer.stream = std::make_unique<QueuedStream>(*this, std::move(ticket), req, ctx, joined, deadline);
    co_return answer;
  }
  ctx.queued = SteadyTime::now() - joined;
  if (!ticket->granted || !ticket->lease || ctx.cancellation.cancelled()) co_return queue_error(ticket, req, ctx);
  co_return co_await failover(req, ctx.group, ctx, std::move(ticket->lease));
}

asio::awaitable<void> Pipeline::await_turn(const std::shared_ptr<Ticket>& ticket, SteadyTime::duration limit,
                                           RequestContext& ctx) {
  if (ticket->granted || limit <= SteadyTime::duration::zero() || stopping_) co_return;
  ticket->wake.expires_after(limit);
  auto registration = ctx.cancellation.on_cancel([t = ticket.get()] { t->wake.cancel(); });
  co_await ticket->wake.async_wait(asio::as_tuple(asio::use_awaitable));
}

// Why a waiting call ends without its turn; it leaves the line.
Error Pipeline::queue_error(const std::shared_ptr<Ticket>& ticket, const LlmRequest& req, RequestContext& ctx) {
  if (ticket->in_line) line_->leave(*ticket);
  if (ticket->lease) ticket->lease.rejected(clock_->now());  // a turn nobody takes: its capacity goes back
  if (!ticket->granted) {  // a granted turn counted as served already
    if (ctx.cancellation.cancelled()) ++queue_counts_.cancelled;
    else if (stopping_) ++queue_counts_.shutdown;
    else ++queue_counts_.expired;
  }
  if (ctx.cancellation.cancelled()) return make_error(errc::cancelled, "client disconnected");
  if (stopping_) return make_error(errc::shutting_down, "The gateway is shutting down; retry on another replica.");
  const auto hint = pool_.wait_hint(ctx.group, ticket->demand, clock_->now());
  Error e = make_error(errc::rate_limited, "Waited " + std::to_string(std::chrono::ceil<std::chrono::seconds>(ctx.queued).count()) +
                                               " s in the overflow queue and no deployment of model `" + req.model +
                                               "` had capacity; retry after " + std::to_string(retry_after_seconds(hint)) + " s.");
  e.retry_after_ms = retry_after_ms(hint);
  return e;
}

void Pipeline::wake_drain(const std::string& group) {
  if (!line_ || line_->size(group) == 0) return;
  if (auto it = drains_.find(group); it != drains_.end()) {
    it->second->timer.cancel();
    return;
  }
  auto state = std::make_shared<Drain>(executor_);
  drains_.emplace(group, state);
  asio::co_spawn(executor_, drain(group, state), asio::detached);
}

// One per model group with waiting calls: grants turns in the line's order
// as the pool finds room, and sleeps until the pool says room returns.
asio::awaitable<void> Pipeline::drain(std::string group, std::shared_ptr<Drain> state) {
  while (!stopping_) {
    Ticket* next = line_->next(group);
    if (!next) break;
    pool::Lease lease = pool_.acquire(group, next->demand, clock_->now(), {}, {});
    if (lease) {
      auto ticket = line_->take(*next);
      ticket->lease = std::move(lease);
      ticket->granted = true;
      ++queue_counts_.served;
      ticket->wake.cancel();
      continue;
    }
    const auto hint = pool_.wait_hint(group, next->demand, clock_->now());
    state->timer.expires_after(std::clamp<Clock::duration>(hint, kMinDrainSleep, kMaxDrainSleep));
    co_await state->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  drains_.erase(group);
}

// The job is stored for a drain loop (this process's with the memory
// backend, any replica's with redis); the model it names is the one the
// client named (an alias included), resolved where the job runs.
asio::awaitable<Result<std::string>> Pipeline::submit(const auth::Caller& caller, Call call, RequestContext& ctx) {
  if (!queue_ || !job_backend_) co_return make_error(errc::bad_request, "Prefer: respond-async needs the overflow queue");
  if (stopping_) co_return make_error(errc::shutting_down, "The gateway is shutting down; retry on another replica.");
  std::random_device random;  // ids must not collide across replicas, whatever their seed
  const auto word = [&random] { return std::uint64_t{random()} << 32 | random(); };
  const std::uint64_t high = word();
  queue::JobEntry job;
  job.id = job_id(high, word());
  job.tenant = caller.tenant();
  job.key_id = caller.key_id();
  job.group = call.request.model;
  job.priority = static_cast<int>(std::min(call.priority, caller.max_priority()));
  job.enqueued_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_->wall().time_since_epoch()).count();
  job.deadline_ms = job.enqueued_ms + max_wait(call).count();
  job.endpoint = std::string(to_string(call.request.endpoint));
  job.body = std::move(call.request.body);
  job.headers = std::move(call.headers);  // a router rule may read them where the job runs
  ctx.model = job.group;
  std::string id = job.id;
  if (Status stored = co_await job_backend_->submit(std::move(job)); !stored) co_return std::move(stored).error();
  co_return id;
}

void Pipeline::job_finished(const RequestContext& ctx, Endpoint endpoint, std::size_t bytes_in,
                            const Result<Answer>& answer) const {
  const int status = answer ? answer->status : answer.error().status();
  log::info("job_finished", {{"request_id", ctx.request_id}, {"tenant", ctx.tenant}, {"provider", ctx.provider},
                             {"status", status},
                             {"queued_ms", std::chrono::duration<double, std::milli>(ctx.queued).count()}});
  if (!job_observer_) return;
  const std::string path = "/v1" + std::string(upstream_path(endpoint));
  job_observer_(RequestSummary{.ctx = ctx,
                               .method = "JOB",
                               .path = path,
                               .status = status,
                               .bytes_in = bytes_in,
                               .bytes_out = answer ? answer->body.size() : 0,
                               .error = answer ? nullptr : &answer.error(),
                               .total = RequestContext::Clock::now() - ctx.started});
}

asio::awaitable<Result<std::optional<Job>>> Pipeline::job(const auth::Caller& caller, const std::string& id) {
  if (!job_backend_) co_return std::optional<Job>{};
  auto found = co_await job_backend_->find(id, caller.tenant());
  if (!found) co_return std::move(found).error();
  if (!*found) co_return std::optional<Job>{};
  const queue::JobState& s = **found;
  Job job{.id = s.id, .tenant = s.tenant, .model = s.model, .status = JobStatus::queued,
          .created_at = s.created_at, .http_status = s.http_status, .body = s.body};
  if (s.status == "running") job.status = JobStatus::running;
  else if (s.status == "completed") job.status = JobStatus::completed;
  else if (s.status == "failed") job.status = JobStatus::failed;
  co_return std::optional<Job>(std::move(job));
}

void Pipeline::carry_over(Pipeline& previous) { queue_counts_ = previous.queue_counts_; }

bool Pipeline::idle() const noexcept { return drains_.empty() && (!line_ || line_->size() == 0); }

QueueStats Pipeline::queue_stats() const noexcept {
  QueueStats stats = queue_counts_;
  stats.waiting = line_ ? line_->size() : 0;
  return stats;
}

void Pipeline::shutdown() {
  stopping_ = true;
  if (!line_) return;
  for (const auto& ticket : line_->all()) {
    line_->leave(*ticket);
    ticket->wake.cancel();
  }
  for (auto& [group, state] : drains_) state->timer.cancel();
}

}  // namespace sluice::pipeline
