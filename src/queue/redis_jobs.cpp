// The redis backend of async jobs (see redis_jobs.hpp): submit and find, and
// one drain loop per model group that reads, reclaims and runs entries.
#include "sluice/queue/redis_jobs.hpp"

#include "job_entry.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>

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
// Entries one read takes from each stream at most: the free run slots are
// shared equally by the streams read, up to this. One entry per read made
// the drain one round trip per job (2.3x slower over a backlog); more than a
// few would hold jobs on this replica that another, with room, could run.
constexpr std::size_t kReadQuantum = 8;
constexpr auto kMinPoll = milliseconds(100);
constexpr auto kMaxPoll = milliseconds(1'000);
constexpr auto kRedisDownPause = milliseconds(500);

// A group's jobs wait in one Stream per priority class and tenant, so a
// read can take the highest class first and an equal share of each
// tenant's entries per round (XREADGROUP's COUNT is per stream), started
// in turns: a1, b1, a2, b2... The set lists the group's
// streams for every replica, each member prefixed with its class's digit.
// The group's stream of earlier versions is still read, as normal priority.
std::string legacy_stream_key(const std::string& group) { return "sluice:jobs:" + group; }
std::string stream_key(const std::string& group, int priority, const std::string& tenant) {
  return "sluice:jobs:" + group + ":p" + std::to_string(priority) + ":t:" + tenant;
}
std::string streams_key(const std::string& group) { return "sluice:jobs:" + group + ":streams"; }
constexpr int kNormalPriority = 1;
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

}  // namespace

struct RedisJobs::Impl : std::enable_shared_from_this<Impl> {
  // One of a group's streams, as the drain loop knows it.
  struct Source {
    std::string key;
    int priority = kNormalPriority;
    bool ready = false;  // the consumer group exists on it
  };

  struct Loop {
    Loop(asio::any_io_executor ex, const std::string& group)
        : timer(std::move(ex)), sources{{legacy_stream_key(group), kNormalPriority, false}} {}
    asio::steady_timer timer;
    std::vector<Source> sources;
    std::size_t in_flight = 0;
    Steady::time_point next_reclaim{}, next_refresh{};
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
  bool started = false;
  bool stopping = false;
  std::size_t running = 0;
  // Jobs that ran here and whose result waits for Redis to store it: their
  // entry, pending still, is never run again here meanwhile.
  std::set<std::string> unstored;
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

  // Learns the group's streams (other replicas' submits add some) and
  // creates the consumer group on the new ones. False when Redis is away.
  asio::awaitable<bool> refresh(const std::string& group, Loop& loop) {
    loop.next_refresh = Steady::now() + kMaxPoll;
    auto members = co_await client.command("SMEMBERS", streams_key(group));
    if (!members) co_return false;
    if (members->is_array()) {
      for (const Reply& m : members->elements()) {
        if (!m.is_string() || m.as_string().size() < 2) continue;
        const std::string& member = m.as_string();
        const int priority = member[0] - '0';
        if (priority < 0 || priority > 2) continue;
        std::string key = member.substr(1);
        auto known = std::find_if(loop.sources.begin(), loop.sources.end(),
                                  [&](const Source& src) { return src.key == key; });
        if (known == loop.sources.end()) loop.sources.push_back({std::move(key), priority, false});
      }
    }
    for (Source& src : loop.sources) {
      if (src.ready) continue;
      // From the stream's start, not "$": finished entries are deleted, so
      // what a stream holds is unfinished, and a group re-created after
      // Redis lost it (a restart without persistence, a submit's XADD
      // first) must still deliver the entries written before it.
      auto r = co_await client.command("XGROUP", "CREATE", src.key, kConsumerGroup, "0", "MKSTREAM");
      if (!r) co_return false;
      src.ready = !r->is_error() || r->as_string().rfind("BUSYGROUP", 0) == 0;
      if (!src.ready) log::warn("queue_group_failed", {{"group", group}, {"error", r->as_string()}});
    }
    co_return true;
  }

  asio::awaitable<void> drain_once(const std::string& group, const std::shared_ptr<Loop>& loop) {
    auto idle = kMinPoll;
    while (!stopping) {
      if (Steady::now() >= loop->next_refresh && !co_await refresh(group, *loop)) {
        co_await sleep(*loop, kRedisDownPause);
        continue;
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
      std::size_t got = 0;
      if (Steady::now() >= loop->next_reclaim) {
        loop->next_reclaim = Steady::now() + std::max<Clock::duration>(queue.reclaim_after / 2, milliseconds(500));
        got += co_await reclaim(group, loop);
      }
      // The highest class that has entries, one entry per tenant's stream.
      std::optional<bool> read;
      for (int priority = 2; priority >= 0 && got == 0; --priority) {
        read = co_await read_class(group, loop, priority, got);
        if (!*read) break;
      }
      if (read && !*read) {
        co_await sleep(*loop, kRedisDownPause);
        continue;
      }
      if (got > 0) {
        idle = kMinPoll;
        continue;
      }
      co_await sleep(*loop, idle);
      idle = std::min(idle * 2, kMaxPoll);
    }
  }

  // Entries pending longer than reclaim_after on any consumer (a replica
  // that died) are taken over; returns how many.
  asio::awaitable<std::size_t> reclaim(const std::string& group, const std::shared_ptr<Loop>& loop) {
    std::size_t got = 0;
    for (std::size_t i = 0; i < loop->sources.size() && loop->in_flight < kMaxInFlight; ++i) {
      if (!loop->sources[i].ready) continue;
      const std::string key = loop->sources[i].key;  // the vector may grow while this waits
      auto r = co_await client.command("XAUTOCLAIM", key, kConsumerGroup, consumer,
                                       std::to_string(queue.reclaim_after.count()), "0-0", "COUNT",
                                       std::to_string(kMaxInFlight - loop->in_flight));
      if (!r || !r->is_array() || r->size() < 2 || !(*r)[1].is_array()) continue;
      for (const Reply& entry : (*r)[1].elements()) {
        ++counters.reclaimed;
        spawn(group, key, loop, entry, true);
        ++got;
      }
    }
    co_return got;
  }

  // One XREADGROUP over the group's streams of `priority`: an equal share
  // of new entries from each, started in turns (the first of each stream,
  // then the second...), so tenants take turns. False when Redis is away.
  asio::awaitable<bool> read_class(const std::string& group, const std::shared_ptr<Loop>& loop, int priority,
                                   std::size_t& got) {
    const std::size_t free = kMaxInFlight - loop->in_flight;
    std::vector<std::string> keys;
    for (const Source& src : loop->sources)
      if (src.ready && src.priority == priority && keys.size() < free) keys.push_back(src.key);
    if (keys.empty()) co_return true;
    const std::size_t share = std::clamp<std::size_t>(free / keys.size(), 1, kReadQuantum);
    std::vector<std::string> args = {"XREADGROUP", "GROUP", kConsumerGroup, consumer, "COUNT", std::to_string(share),
                                     "STREAMS"};
    args.insert(args.end(), keys.begin(), keys.end());
    args.insert(args.end(), keys.size(), ">");
    auto r = co_await client.command(std::span<const std::string>(args));
    if (!r) co_return false;
    if (r->is_error()) {
      if (r->as_string().rfind("NOGROUP", 0) == 0) {
        for (Source& src : loop->sources) src.ready = false;  // a stream was deleted: create the groups again
        loop->next_refresh = Steady::now();
      } else {
        log::warn("queue_read_failed", {{"group", group}, {"error", r->as_string()}});
      }
      co_return true;
    }
    if (!r->is_array()) co_return true;
    std::vector<const Reply*> streams;
    for (const Reply& stream : r->elements())
      if (stream.is_array() && stream.size() >= 2 && stream[0].is_string() && stream[1].is_array())
        streams.push_back(&stream);
    for (std::size_t turn = 0; turn < share; ++turn)
      for (const Reply* stream : streams)
        if (turn < (*stream)[1].size()) {
          spawn(group, (*stream)[0].as_string(), loop, (*stream)[1].elements()[turn], false);
          ++got;
        }
    co_return true;
  }

  void spawn(const std::string& group, const std::string& stream, const std::shared_ptr<Loop>& loop,
             const Reply& entry, bool reclaimed) {
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
    asio::co_spawn(executor,
                   process(group, stream, loop, std::move(entry_id), std::move(fields), readable, reclaimed),
                   asio::detached);
  }

  asio::awaitable<void> process(std::string group, std::string stream, std::shared_ptr<Loop> loop,
                                std::string entry_id, std::map<std::string, std::string> fields, bool readable,
                                bool reclaimed) {
    auto self = shared_from_this();
    try {
      co_await handle(group, stream, entry_id, fields, readable, reclaimed);
    } catch (const std::exception& e) {
      log::error("queue_job_error", {{"group", group}, {"entry", entry_id}, {"error", e.what()}});
    }
    --loop->in_flight;
    loop->timer.cancel();
    if (--running == 0 && on_done) asio::post(executor, std::exchange(on_done, nullptr));
  }

  // XACK and XDEL: the entry is done with.
  asio::awaitable<bool> ack(const std::string& stream, const std::string& entry_id) {
    redis::Batch b;
    b.add("XACK", stream, kConsumerGroup, entry_id).add("XDEL", stream, entry_id);
    auto r = co_await client.pipeline(std::move(b));
    co_return r.ok();
  }

  asio::awaitable<void> handle(const std::string& group, const std::string& stream, const std::string& entry_id,
                               const std::map<std::string, std::string>& fields, bool readable, bool reclaimed) {
    std::optional<JobEntry> job;
    if (readable) job = decode_entry(fields, group);
    if (!job) {
      // Another version's entry, or a truncated one: aside, never run.
      std::vector<std::string> dead = {"XADD", kDeadStream, "MAXLEN", "~", "10000", "*", "stream", stream,
                                       "entry", entry_id};
      for (const auto& [k, v] : fields) dead.insert(dead.end(), {"f:" + k, v});
      redis::Batch b;
      b.add(std::span<const std::string>(dead));
      b.add("XACK", stream, kConsumerGroup, entry_id).add("XDEL", stream, entry_id);
      co_await client.pipeline(std::move(b));
      ++counters.malformed;
      log::warn("queue_job_malformed", {{"group", group}, {"entry", entry_id}, {"moved_to", kDeadStream}});
      co_return;
    }
    if (unstored.count(job->id)) co_return;  // ran here; its store() acknowledges the entry
    auto status = co_await client.command("HGET", job_key(job->id), "status");
    if (!status) co_return;  // Redis went away: the entry stays pending, reclaimed later
    if (status->is_nil() || (status->is_string() && (status->as_string() == "completed" ||
                                                      status->as_string() == "failed"))) {
      // Finished already (a claim after the result was stored), or expired.
      if (!status->is_nil()) ++counters.duplicates;
      co_await ack(stream, entry_id);
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
      co_await store(stream, entry_id, *job, expired);
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
    co_await store(stream, entry_id, *job, *outcome);
  }

  // Entries in the group's streams (unfinished jobs), summed.
  asio::awaitable<Result<std::size_t>> queued(const std::string& group) {
    auto members = co_await client.command("SMEMBERS", streams_key(group));
    if (!members) co_return std::move(members).error();
    redis::Batch b;
    b.add("XLEN", legacy_stream_key(group));
    if (members->is_array())
      for (const Reply& m : members->elements())
        if (m.is_string() && m.as_string().size() > 1) b.add("XLEN", m.as_string().substr(1));
    auto lengths = co_await client.pipeline(std::move(b));
    if (!lengths) co_return std::move(lengths).error();
    std::size_t total = 0;
    for (const Reply& n : *lengths)
      if (n.is_integer() && n.as_integer() > 0) total += static_cast<std::size_t>(n.as_integer());
    co_return total;
  }

  // The result, then the ack: a job is never acknowledged before its result
  // is stored. While Redis is away the result is kept and the store retried
  // (a paused or restarting Redis must not make a job run twice), and this
  // replica does not run the job again meanwhile. Given up only when the
  // replica stops, after reclaim_after: the entry stays pending and the job
  // runs again elsewhere. Another replica may also take it over once the
  // run lease lapses (an outage longer than reclaim_after): at least once.
  asio::awaitable<void> store(const std::string& stream, const std::string& entry_id, const JobEntry& job,
                              const JobOutcome& outcome) {
    const auto give_up = Steady::now() + queue.reclaim_after;
    asio::steady_timer pause(executor);
    unstored.insert(job.id);
    struct Forget {
      std::set<std::string>& set;
      const std::string& id;
      ~Forget() { set.erase(id); }
    } forget{unstored, job.id};
    for (;;) {
      redis::Batch b;
      b.add("HSET", job_key(job.id), "status", outcome.completed ? "completed" : "failed", "http_status",
            std::to_string(outcome.http_status), "body", outcome.body);
      b.add("PEXPIRE", job_key(job.id), std::to_string(queue.result_ttl.count()));
      b.add("XACK", stream, kConsumerGroup, entry_id).add("XDEL", stream, entry_id);
      b.add("DEL", run_key(job.id));
      if (auto r = co_await client.pipeline(std::move(b)); r) co_return;
      if (stopping && Steady::now() >= give_up) {
        log::error("queue_result_lost", {{"request_id", job.id}, {"group", job.group},
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
  impl_->started = true;
  start_loops();
  log::info("queue_started", {{"backend", "redis"}, {"consumer", impl_->consumer},
                              {"groups", static_cast<std::int64_t>(impl_->groups.size())}});
}

void RedisJobs::start_loops() {
  for (const auto& group : impl_->groups) {
    if (impl_->loops.count(group)) continue;
    auto loop = std::make_shared<Impl::Loop>(impl_->executor, group);
    impl_->loops.emplace(group, loop);
    asio::co_spawn(impl_->executor, impl_->drain(group, loop), asio::detached);
  }
}

void RedisJobs::add_groups(const std::vector<std::string>& groups) {
  for (const std::string& g : groups)
    if (std::find(impl_->groups.begin(), impl_->groups.end(), g) == impl_->groups.end()) impl_->groups.push_back(g);
  if (impl_->started && !impl_->stopping) start_loops();
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
  // The bound counts every stream of the group (one per class and tenant).
  auto waiting = co_await self->queued(job.group);
  if (!waiting) co_return unavailable(waiting.error().message);
  if (*waiting >= self->queue.max_length) {
    Error full = make_error(errc::rate_limited, "The overflow queue is full (" + std::to_string(self->queue.max_length) +
                                                    " jobs wait already); retry later.");
    full.retry_after_ms = 1000;
    co_return full;
  }
  const std::string skey = stream_key(job.group, job.priority, job.tenant);
  const std::string jkey = job_key(job.id);
  redis::Batch b;
  b.add("HSET", jkey, "tenant", job.tenant, "model", job.group, "status", "queued", "created_at",
        std::to_string(job.enqueued_ms / 1000));
  b.add("PEXPIRE", jkey, std::to_string((self->queue.max_wait + self->queue.result_ttl).count()));
  // The bound is XLEN's; MAXLEN is only a backstop, set above it, so that
  // submits racing past the check never trim entries not yet run.
  std::vector<std::string> xadd = {"XADD", skey, "MAXLEN", "~", std::to_string(2 * self->queue.max_length), "*"};
  for (std::string& f : entry_fields(job)) xadd.push_back(std::move(f));
  b.add(xadd);
  b.add("SADD", streams_key(job.group), std::to_string(job.priority) + skey);
  auto r = co_await self->client.pipeline(std::move(b));
  if (!r) co_return unavailable(r.error().message);
  for (const Reply& reply : *r)
    if (reply.is_error()) co_return make_error(errc::internal, "Redis refused the job: " + reply.as_string());
  ++self->counters.submitted;
  if (auto it = self->loops.find(job.group); it != self->loops.end()) {  // read it now, from its stream
    it->second->next_refresh = Steady::now();
    it->second->timer.cancel();
  }
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
