// sluice_queue_bench: the redis backend of the overflow queue (RedisJobs) on
// its own, against a Redis given by URL (default: REDIS_URL). The runner
// answers at once, like the mock provider with no latency, so what is
// measured is the queue's own cost. Each measure is repeated R times and the
// median is reported (min and max beside it):
//
//   overhead    submit one job, capacity available, until the runner has it
//               (enqueue to dispatch), one job at a time; p50 and p99
//   drain       a backlog of N jobs written first, then one replica drains
//               it: jobs/s from its start to the last result stored
//   commands    Redis commands per job over the drain (INFO stats
//               total_commands_processed, submit included)
//
//   sluice_queue_bench [--url redis://127.0.0.1:6379/0] [--jobs N] [--reps R] [--samples S]
//
// It deletes sluice:* keys of the group it uses (bench) before each run:
// point it at a Redis of its own. See docs/benchmarks.md, "Overflow queue".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "sluice/core/config.hpp"
#include "sluice/queue/redis_jobs.hpp"
#include "sluice/redis/client.hpp"

namespace {

namespace asio = boost::asio;
using namespace sluice;
using Steady = std::chrono::steady_clock;

template <class T>
T run(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> out;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { out.emplace(co_await std::move(task)); }, asio::detached);
  while (!out) io.run_one();
  return std::move(*out);
}

std::int64_t commands_processed(asio::io_context& io, redis::Client& c) {
  auto r = run(io, c.command("INFO", "stats"));
  if (!r || !r->is_string()) return -1;
  const std::string& text = r->as_string();
  const auto at = text.find("total_commands_processed:");
  return at == std::string::npos ? -1 : std::stoll(text.substr(at + 25));
}

queue::JobEntry job(int i) {
  queue::JobEntry j;
  j.id = "job_bench" + std::to_string(i);
  j.tenant = "bench";
  j.group = "bench";
  j.endpoint = "chat_completions";
  j.body = R"({"model":"bench","messages":[{"role":"user","content":"hello"}]})";
  j.enqueued_ms = 1;
  j.deadline_ms = std::int64_t(1) << 60;
  return j;
}

void reset(asio::io_context& io, redis::Client& c) {
  (void)run(io, c.command("DEL", "sluice:jobs:bench"));
  (void)run(io, c.command("EVAL", "for _,k in ipairs(redis.call('KEYS','sluice:job:job_bench*')) do redis.call('DEL',k) end",
                    "0"));
}

struct Stats {
  double median, min, max;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

}  // namespace

int main(int argc, char** argv) {
  std::string url = std::getenv("REDIS_URL") ? std::getenv("REDIS_URL") : "redis://127.0.0.1:6379/0";
  int jobs = 10'000, reps = 3, samples = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--url") url = argv[i + 1];
    else if (a == "--jobs") jobs = std::atoi(argv[i + 1]);
    else if (a == "--reps") reps = std::atoi(argv[i + 1]);
    else if (a == "--samples") samples = std::atoi(argv[i + 1]);
  }
  RedisConfig redis;
  if (auto bad = parse_redis_url(url, redis)) {
    std::fprintf(stderr, "bad --url: %s\n", bad->c_str());
    return 2;
  }
  redis.command_timeout = Millis{10'000};
  QueueConfig queue;
  queue.max_length = 10'000'000;
  queue.max_wait = Millis{3'600'000};

  asio::io_context io;
  redis::Client admin(io.get_executor(), redis);
  std::size_t ran = 0;
  std::vector<Steady::time_point> dispatched;
  auto runner = [&](const queue::JobEntry&) -> asio::awaitable<std::optional<queue::JobOutcome>> {
    ++ran;
    dispatched.push_back(Steady::now());
    co_return queue::JobOutcome{true, 200, R"({"ok":true})"};
  };
  auto capacity = [](const std::string&) { return Clock::duration::zero(); };

  std::vector<double> p50s, p99s, rates, per_job;
  for (int rep = 0; rep < reps; ++rep) {
    // Overhead: one job at a time.
    reset(io, admin);
    {
      queue::RedisJobs consumer(io.get_executor(), redis, queue, {"bench"}, runner, capacity);
      consumer.start();
      std::vector<double> lat;
      for (int i = 0; i < samples; ++i) {
        const std::size_t before = ran;
        const auto t0 = Steady::now();
        if (!run(io, consumer.submit(job(i)))) {
          std::fprintf(stderr, "submit failed\n");
          return 1;
        }
        while (ran == before) io.run_one();
        lat.push_back(std::chrono::duration<double, std::micro>(dispatched.back() - t0).count());
        io.run_for(std::chrono::milliseconds(2));  // its result stored
      }
      std::sort(lat.begin(), lat.end());
      p50s.push_back(lat[lat.size() / 2]);
      p99s.push_back(lat[lat.size() * 99 / 100]);
      consumer.stop({});
    }
    io.run_for(std::chrono::milliseconds(50));
    // Drain: a backlog, then one replica.
    reset(io, admin);
    {
      queue::RedisJobs producer(io.get_executor(), redis, queue, {"bench"}, runner, capacity);  // not started: submits only
      const std::int64_t c0 = commands_processed(io, admin);
      for (int i = 0; i < jobs; ++i)
        if (!run(io, producer.submit(job(100'000 + i)))) return 1;
      queue::RedisJobs consumer(io.get_executor(), redis, queue, {"bench"}, runner, capacity);
      ran = 0;
      const auto t0 = Steady::now();
      consumer.start();
      while (true) {
        io.run_for(std::chrono::milliseconds(5));
        auto len = run(io, admin.command("XLEN", "sluice:jobs:bench"));
        if (ran >= std::size_t(jobs) && len && len->is_integer() && len->as_integer() == 0) break;
      }
      const double secs = std::chrono::duration<double>(Steady::now() - t0).count();
      const std::int64_t c1 = commands_processed(io, admin);
      rates.push_back(jobs / secs);
      per_job.push_back(double(c1 - c0) / jobs);
      consumer.stop({});
    }
    io.run_for(std::chrono::milliseconds(50));
  }
  const Stats a = stats(p50s), b = stats(p99s), c = stats(rates), d = stats(per_job);
  std::printf("enqueue->dispatch p50   %8.0f us (min %.0f, max %.0f)\n", a.median, a.min, a.max);
  std::printf("enqueue->dispatch p99   %8.0f us (min %.0f, max %.0f)\n", b.median, b.min, b.max);
  std::printf("drain of %d jobs      %8.0f jobs/s (min %.0f, max %.0f)\n", jobs, c.median, c.min, c.max);
  std::printf("redis commands per job  %8.1f (min %.1f, max %.1f; submit included)\n", d.median, d.min, d.max);
  return 0;
}
