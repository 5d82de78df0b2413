// The redis backend of async jobs (see redis_jobs.hpp): submit and find, and
// one drain loop per model group that reads, reclaims and runs entries.
#include "sluice/queue/redis_jobs.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sluice/core/log.hpp"
#include "sluice/redis/client.hpp"

namespace sluice::queue {

namespace asio = boost::asio;
using redis::Reply;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

const std::string kConsumerGroup = "sluice";
const std::string kDeadStream = "sluice:jobs:dead";
constexpr std::size_t kMaxInFlight = 32;  // jobs one replica runs at once per group
constexpr auto kMinPoll = milliseconds(100);
constexpr auto kMaxPoll = milliseconds(1'000);
constexpr auto kRedisDownPause = milliseconds(500);

std::string stream_key(const std::string& group) { return "sluice:jobs:" + group; }
std::string job_key(const std::string& id) { return "sluice:job:" + id; }
std::string run_key(const std::string& id) { return job_key(id) + ":run"; }

std::int64_t unix_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string consumer_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '?';
  std::random_device rd;
  char suffix[9];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  return std::string(host) + ":" + std::to_string(::getpid()) + ":" + suffix;
}

const std::string* field(const std::map<std::string, std::string>& f, const char* name) {
  auto it = f.find(name);
  return it == f.end() ? nullptr : &it->second;
}

bool to_int(const std::string& s, std::int64_t& out) {
  if (s.empty()) return false;
  try {
    std::size_t used = 0;
    out = std::stoll(s, &used);
    return used == s.size();
  } catch (...) {
    return false;
  }
}

// An entry's fields as a job; nullopt when one is missing or unreadable.
std::optional<JobEntry> decode_entry(const std::map<std::string, std::string>& f, const std::string& group) {
  JobEntry job;
  job.group = group;
  std::int64_t priority = 0;
  for (auto [name, out] : {std::pair{"id", &job.id}, {"tenant", &job.tenant}, {"key_id", &job.key_id},
                           {"endpoint", &job.endpoint}, {"body", &job.body}}) {
    const std::string* v = field(f, name);
    if (!v) return std::nullopt;
    *out = *v;
  }
  const std::string *p = field(f, "priority"), *e = field(f, "enqueued_ms"), *d = field(f, "deadline_ms");
  if (!p || !e || !d || !to_int(*p, priority) || !to_int(*e, job.enqueued_ms) || !to_int(*d, job.deadline_ms))
    return std::nullopt;
  if (job.id.rfind("job_", 0) != 0 || job.body.empty() || priority < 0 || priority > 2) return std::nullopt;
  job.priority = static_cast<int>(priority);
  return job;
}

}  // namespace

struct RedisJobs::Impl : std::enable_shared_from_this<Impl> {
  struct Loop {
    explicit Loop(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    bool group_ready = false;
    std::size_t in_flight = 0;
    Steady::time_point next_reclaim{};
  };

  Impl(asio::any_io_executor ex, const RedisConfig& redis, const QueueConfig& q, std::vector<std::string> g,
       Runner r, Capacity c)
      : executor(ex), client(ex, redis), queue(q), groups(std::move(g)), runner(std::move(r)),
        capacity(std::move(c)), consumer(consumer_name()) {}

  asio::any_io_executor executor;
  redis::Client client;
  QueueConfig queue;
  std::vector<std::string> groups;
  Runner runner;
  Capacity capacity;
  std::string consumer;
  RedisJobsCounters counters;
  std::map<std::string, std::shared_ptr<Loop>> loops;
  bool stopping = false;
  std::size_t running = 0;
  std::function<void()> on_done;

  asio::awaitable<void> sleep(Loop& loop, Clock::duration d) {
    loop.timer.expires_after(d);
    co_await loop.timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  // The drain loop of one group; it never ends on an error, only at stop.
  asio::awaitable<void> drain(std::string group, std::shared_ptr<Loop> loop) {
    auto self = shared_from_this();
    while (!stopping) {
      bool failed = false;
      try {
        co_await drain_once(group, loop);
      } catch (const std::exception& e) {
        log::error("queue_loop_error", {{"group", group}, {"error", e.what()}});
        failed = true;
      }
      if (failed) co_await sleep(*loop, kMaxPoll);
    }
  }

  asio::awaitable<void> drain_once(const std::string& group, const std::shared_ptr<Loop>& loop) {
    const std::string key = stream_key(group);
    auto idle = kMinPoll;
    while (!stopping) {
      if (!loop->group_ready) {
        // From the stream's start, not "$": finished entries are deleted, so
        // what the stream holds is unfinished, and a group re-created after
        // Redis lost it (a restart without persistence, a submit's XADD
        // first) must still deliver the entries written before it.
        auto r = co_await client.command("XGROUP", "CREATE", key, kConsumerGroup, "0", "MKSTREAM");
        if (!r) {
          co_await sleep(*loop, kRedisDownPause);
          continue;
        }
        loop->group_ready = !r->is_error() || r->as_string().rfind("BUSYGROUP", 0) == 0;
        if (!loop->group_ready) {
          log::warn("queue_group_failed", {{"group", group}, {"error", r->as_string()}});
          co_await sleep(*loop, kMaxPoll);
          continue;
        }
      }
      // Read only while the pool has room: a job read and not run waits in
      // this replica while another may have capacity.
      if (const auto hint = capacity(group); hint > Clock::duration::zero()) {
        co_await sleep(*loop, std::clamp<Clock::duration>(hint, milliseconds(5), kMaxPoll));
        continue;
      }
      if (loop->in_flight >= kMaxInFlight) {
        co_await sleep(*loop, kMaxPoll);  // a finishing job wakes the loop
        continue;
      }
      const std::string count = std::to_string(std::min<std::size_t>(16, kMaxInFlight - loop->in_flight));
      std::size_t got = 0;
      if (Steady::now() >= loop->next_reclaim) {
        loop->next_reclaim = Steady::now() + std::max<Clock::duration>(queue.reclaim_after / 2, milliseconds(500));
        auto r = co_await client.command("XAUTOCLAIM", key, kConsumerGroup, consumer,
                                         std::to_string(queue.reclaim_after.count()), "0-0", "COUNT", count);
        if (r && r->is_array() && r->size() >= 2 && (*r)[1].is_array()) {
          for (const Reply& entry : (*r)[1].elements()) {
            ++counters.reclaimed;
            spawn(group, loop, entry, true);
            ++got;
          }
        }
      }
      auto r = co_await client.command("XREADGROUP", "GROUP", kConsumerGroup, consumer, "COUNT", count, "STREAMS",
                                       key, ">");
      if (!r) {
        co_await sleep(*loop, kRedisDownPause);
        continue;
      }
      if (r->is_error()) {
        if (r->as_string().rfind("NOGROUP", 0) == 0) loop->group_ready = false;  // the stream was deleted
        else log::warn("queue_read_failed", {{"group", group}, {"error", r->as_string()}});
        co_await sleep(*loop, kMaxPoll);
        continue;
      }
      if (r->is_array()) {
        for (const Reply& stream : r->elements()) {
          if (!stream.is_array() || stream.size() < 2 || !stream[1].is_array()) continue;
          for (const Reply& entry : stream[1].elements()) {
            spawn(group, loop, entry, false);
            ++got;
          }
        }
      }
      if (got > 0) {
        idle = kMinPoll;
        continue;
      }
      co_await sleep(*loop, idle);
      idle = std::min(idle * 2, kMaxPoll);
    }
  }

  void spawn(const std::string& group, const std::shared_ptr<Loop>& loop, const Reply& entry, bool reclaimed) {
    if (!entry.is_array() || entry.size() < 2 || !entry[0].is_string()) return;
    std::string entry_id = entry[0].as_string();
    std::map<std::string, std::string> fields;
    bool readable = entry[1].is_array();
    if (readable) {
      const auto& f = entry[1].elements();
      for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
        if (!f[i].is_string() || !f[i + 1].is_string()) {
          readable = false;
          break;
        }
        fields[f[i].as_string()] = f[i + 1].as_string();
      }
    }
    ++loop->in_flight;
    ++running;
    asio::co_spawn(executor, process(group, loop, std::move(entry_id), std::move(fields), readable, reclaimed),
                   asio::detached);
  }

  asio::awaitable<void> process(std::string group, std::shared_ptr<Loop> loop, std::string entry_id,
                                std::map<std::string, std::string> fields, bool readable, bool reclaimed) {
    auto self = shared_from_this();
    try {
      co_await handle(group, entry_id, fields, readable, reclaimed);
    } catch (const std::exception& e) {
      log::error("queue_job_error", {{"group", group}, {"entry", entry_id}, {"error", e.what()}});
    }
    --loop->in_flight;
    loop->timer.cancel();
    if (--running == 0 && on_done) asio::post(executor, std::exchange(on_done, nullptr));
  }

  // XACK and XDEL: the entry is done with.
  asio::awaitable<bool> ack(const std::string& group, const std::string& entry_id) {
    redis::Batch b;
    b.add("XACK", stream_key(group), kConsumerGroup, entry_id).add("XDEL", stream_key(group), entry_id);
    auto r = co_await client.pipeline(std::move(b));
    co_return r.ok();
  }

  asio::awaitable<void> handle(const std::string& group, const std::string& entry_id,
                               const std::map<std::string, std::string>& fields, bool readable, bool reclaimed) {
    std::optional<JobEntry> job;
    if (readable) job = decode_entry(fields, group);
    if (!job) {
      // Another version's entry, or a truncated one: aside, never run.
      std::vector<std::string> dead = {"XADD", kDeadStream, "MAXLEN", "~", "10000", "*", "stream", stream_key(group),
                                       "entry", entry_id};
      for (const auto& [k, v] : fields) dead.insert(dead.end(), {"f:" + k, v});
      redis::Batch b;
      b.add(std::span<const std::string>(dead));
      b.add("XACK", stream_key(group), kConsumerGroup, entry_id).add("XDEL", stream_key(group), entry_id);
      co_await client.pipeline(std::move(b));
      ++counters.malformed;
      log::warn("queue_job_malformed", {{"group", group}, {"entry", entry_id}, {"moved_to", kDeadStream}});
      co_return;
    }
    auto status = co_await client.command("HGET", job_key(job->id), "status");
    if (!status) co_return;  // Redis went away: the entry stays pending, reclaimed later
    if (status->is_nil() || (status->is_string() && (status->as_string() == "completed" ||
                                                      status->as_string() == "failed"))) {
      // Finished already (a claim after the result was stored), or expired.
      if (!status->is_nil()) ++counters.duplicates;
      co_await ack(group, entry_id);
      co_return;
    }
    if (unix_ms() > job->deadline_ms) {
      Error e = make_error(errc::rate_limited,
                           "The job expired in the overflow queue before a deployment of model `" + group +
                               "` had capacity; submit it again.");
      e.retry_after_ms = 1000;
      ++counters.expired;
      log::warn("queue_job_expired", {{"request_id", job->id}, {"tenant", job->tenant}, {"group", group}});
      // A named outcome: g++ 12 destroys a braced temporary in a co_await
      // expression twice.
      JobOutcome expired;
      expired.http_status = e.status();
      expired.body = error_body(e);
      co_await store(group, entry_id, *job, expired);
      co_return;
    }
    const std::string lease_ms = std::to_string(queue.reclaim_after.count());
    auto lease = co_await client.command("SET", run_key(job->id), consumer, "NX", "PX", lease_ms);
    if (!lease || lease->is_nil()) co_return;  // another replica runs it (or Redis is gone)
    if (reclaimed) log::info("queue_job_reclaimed", {{"request_id", job->id}, {"group", group}});
    co_await client.command("HSET", job_key(job->id), "status", "running");

    // Keep the lease while the job runs.
    auto refresher = std::make_shared<asio::steady_timer>(executor);
    auto running_flag = std::make_shared<bool>(true);
    asio::co_spawn(
        executor,
        [](std::shared_ptr<Impl> self, std::shared_ptr<asio::steady_timer> t, std::shared_ptr<bool> on,
           std::string key, std::string ms) -> asio::awaitable<void> {
          while (*on) {
            t->expires_after(self->queue.reclaim_after / 3);
            co_await t->async_wait(asio::as_tuple(asio::use_awaitable));
            if (*on) co_await self->client.command("PEXPIRE", key, ms);
          }
        }(shared_from_this(), refresher, running_flag, run_key(job->id), lease_ms),
        asio::detached);
    std::optional<JobOutcome> outcome = co_await runner(*job);
    *running_flag = false;
    refresher->cancel();
    if (!outcome) {
      // Not finished here (shutdown): pending for another replica.
      co_await client.command("DEL", run_key(job->id));
      co_return;
    }
    ++counters.ran;
    co_await store(group, entry_id, *job, *outcome);
  }

  // The result, then the ack: a job is never acknowledged before its result
  // is stored. Retried while Redis is away, within reclaim_after.
  asio::awaitable<void> store(const std::string& group, const std::string& entry_id, const JobEntry& job,
                              const JobOutcome& outcome) {
    const auto give_up = Steady::now() + queue.reclaim_after;
    asio::steady_timer pause(executor);
    for (;;) {
      redis::Batch b;
      b.add("HSET", job_key(job.id), "status", outcome.completed ? "completed" : "failed", "http_status",
            std::to_string(outcome.http_status), "body", outcome.body);
      b.add("PEXPIRE", job_key(job.id), std::to_string(queue.result_ttl.count()));
      b.add("XACK", stream_key(group), kConsumerGroup, entry_id).add("XDEL", stream_key(group), entry_id);
      b.add("DEL", run_key(job.id));
      if (auto r = co_await client.pipeline(std::move(b)); r) co_return;
      if (Steady::now() >= give_up) {
        log::error("queue_result_lost", {{"request_id", job.id}, {"group", group},
                                         {"error", "Redis unreachable; the job stays pending and runs again"}});
        co_return;
      }
      pause.expires_after(kRedisDownPause);
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
};

RedisJobs::RedisJobs(asio::any_io_executor executor, const RedisConfig& redis, const QueueConfig& queue,
                     std::vector<std::string> groups, Runner runner, Capacity capacity)
    : impl_(std::make_shared<Impl>(std::move(executor), redis, queue, std::move(groups), std::move(runner),
                                   std::move(capacity))) {}

RedisJobs::~RedisJobs() {
  impl_->stopping = true;
  for (auto& [g, loop] : impl_->loops) loop->timer.cancel();
  impl_->client.close();
}

void RedisJobs::start() {
  impl_->client.start();
  for (const auto& group : impl_->groups) {
    if (impl_->loops.count(group)) continue;
    auto loop = std::make_shared<Impl::Loop>(impl_->executor);
    impl_->loops.emplace(group, loop);
    asio::co_spawn(impl_->executor, impl_->drain(group, loop), asio::detached);
  }
  log::info("queue_started", {{"backend", "redis"}, {"consumer", impl_->consumer},
                              {"groups", static_cast<std::int64_t>(impl_->groups.size())}});
}

void RedisJobs::stop(std::function<void()> done) {
  impl_->stopping = true;
  for (auto& [g, loop] : impl_->loops) loop->timer.cancel();
  if (impl_->running == 0) {
    if (done) done();
  } else {
    impl_->on_done = std::move(done);
  }
}

asio::awaitable<Status> RedisJobs::submit(JobEntry job) {
  auto self = impl_;
  auto unavailable = [&](const std::string& why) {
    Error e = make_error(errc::redis_unavailable,
                         "The job queue (Redis) is unreachable, so the async job was not accepted; retry later, or "
                         "send the request without Prefer: respond-async. (" + why + ")");
    e.retry_after_ms = 5'000;
    return e;
  };
  // Only a group some drain loop reads: an entry in any other stream would
  // never run.
  if (std::find(self->groups.begin(), self->groups.end(), job.group) == self->groups.end())
    co_return make_error(errc::model_not_found,
                         "The model `" + job.group + "` does not exist or you do not have access to it.", "model");
  const std::string skey = stream_key(job.group);
  auto length = co_await self->client.command("XLEN", skey);
  if (!length) co_return unavailable(length.error().message);
  if (length->is_integer() && static_cast<std::size_t>(length->as_integer()) >= self->queue.max_length) {
    Error full = make_error(errc::rate_limited, "The overflow queue is full (" + std::to_string(self->queue.max_length) +
                                                    " jobs wait already); retry later.");
    full.retry_after_ms = 1000;
    co_return full;
  }
  const std::string jkey = job_key(job.id);
  redis::Batch b;
  b.add("HSET", jkey, "tenant", job.tenant, "model", job.group, "status", "queued", "created_at",
        std::to_string(job.enqueued_ms / 1000));
  b.add("PEXPIRE", jkey, std::to_string((self->queue.max_wait + self->queue.result_ttl).count()));
  // The bound is XLEN's; MAXLEN is only a backstop, set above it, so that
  // submits racing past the check never trim entries not yet run.
  b.add("XADD", skey, "MAXLEN", "~", std::to_string(2 * self->queue.max_length), "*", "id", job.id, "tenant", job.tenant,
        "key_id", job.key_id, "priority", std::to_string(job.priority), "enqueued_ms", std::to_string(job.enqueued_ms),
        "deadline_ms", std::to_string(job.deadline_ms), "endpoint", job.endpoint, "body", job.body);
  auto r = co_await self->client.pipeline(std::move(b));
  if (!r) co_return unavailable(r.error().message);
  for (const Reply& reply : *r)
    if (reply.is_error()) co_return make_error(errc::internal, "Redis refused the job: " + reply.as_string());
  ++self->counters.submitted;
  if (auto it = self->loops.find(job.group); it != self->loops.end()) it->second->timer.cancel();  // read it now
  co_return Ok{};
}

asio::awaitable<Result<std::optional<JobState>>> RedisJobs::find(std::string id, std::string tenant) {
  auto self = impl_;
  auto r = co_await self->client.command("HGETALL", job_key(id));
  if (!r) {
    Error e = make_error(errc::redis_unavailable, "The job queue (Redis) is unreachable; poll again later.");
    e.retry_after_ms = 5'000;
    co_return e;
  }
  if (!r->is_array() || r->size() == 0) co_return std::optional<JobState>{};
  JobState job;
  job.id = id;
  const auto& f = r->elements();
  for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
    if (!f[i].is_string() || !f[i + 1].is_string()) continue;
    const std::string& name = f[i].as_string();
    const std::string& value = f[i + 1].as_string();
    std::int64_t n = 0;
    if (name == "tenant") job.tenant = value;
    else if (name == "model") job.model = value;
    else if (name == "status") job.status = value;
    else if (name == "body") job.body = value;
    else if (name == "created_at" && to_int(value, n)) job.created_at = n;
    else if (name == "http_status" && to_int(value, n)) job.http_status = static_cast<int>(n);
  }
  // Another tenant's job is as unknown as one that never was.
  if (job.tenant != tenant) co_return std::optional<JobState>{};
  co_return std::optional<JobState>(std::move(job));
}

const std::string& RedisJobs::consumer() const noexcept { return impl_->consumer; }
const RedisJobsCounters& RedisJobs::counters() const noexcept { return impl_->counters; }

bool RedisJobs::connected() const noexcept { return impl_->client.connected(); }

}  // namespace sluice::queue
