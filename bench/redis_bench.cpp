// sluice_redis_bench: commands per second through redis::Client, against a
// Redis given by URL (default: REDIS_URL). Three shapes, each repeated and
// reported as the median, min and max of the repetitions, plus the median
// CPU time the client's thread used per command (on a shared machine the
// wall time holds other processes' slices too):
//
//   awaited     one coroutine, one INCR at a time (a round trip each)
//   concurrent  C coroutines, each one INCR at a time: what the client
//               pipelines by itself (commands issued in one turn share a write)
//   pipelined   Batches of B INCRs, one pipeline() call each
//
//   sluice_redis_bench [--url redis://127.0.0.1:6379/0] [--commands N] [--reps R]
//                      [--coroutines C] [--batch B]
//
// Results go to stdout. See docs/benchmarks.md, "Redis client".
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "sluice/core/config.hpp"
#include "sluice/redis/client.hpp"

namespace {

namespace asio = boost::asio;
using sluice::redis::Batch;
using sluice::redis::Client;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string url;
  long commands = 100'000;
  int reps = 3;
  int coroutines = 64;
  int batch = 1000;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "sluice_redis_bench: %s\nusage: sluice_redis_bench [--url URL] [--commands N] [--reps R] "
                       "[--coroutines C] [--batch B]\n", why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  if (const char* url = std::getenv("REDIS_URL")) o.url = url;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) usage("missing value");
    const char* v = argv[++i];
    if (a == "--url") o.url = v;
    else if (a == "--commands") o.commands = std::atol(v);
    else if (a == "--reps") o.reps = std::atoi(v);
    else if (a == "--coroutines") o.coroutines = std::atoi(v);
    else if (a == "--batch") o.batch = std::atoi(v);
    else usage("unknown option");
  }
  if (o.url.empty()) usage("no Redis: pass --url or set REDIS_URL");
  if (o.commands <= 0 || o.reps <= 0 || o.coroutines <= 0 || o.batch <= 0) usage("counts must be positive");
  return o;
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

long failures = 0;

asio::awaitable<void> awaited(Client& redis, std::string key, long n, long& done) {
  for (long i = 0; i < n; ++i) {
    auto r = co_await redis.command("INCR", key);
    if (!r || !r->is_integer()) ++failures;
    ++done;
  }
}

asio::awaitable<void> pipelined(Client& redis, std::string key, long n, int batch_size, long& done) {
  for (long sent = 0; sent < n;) {
    Batch batch;
    for (int i = 0; i < batch_size && sent < n; ++i, ++sent) batch.add("INCR", key);
    const auto size = static_cast<long>(batch.size());
    auto r = co_await redis.pipeline(std::move(batch));
    if (!r) failures += size;
    done += size;
  }
}

asio::awaitable<void> remove(Client& redis, std::string key, bool& done) {
  auto r = co_await redis.command("DEL", key);
  if (!r) ++failures;
  done = true;
}

struct Sample {
  double per_second;
  double cpu_us_per_command;
};

// One repetition of a shape: `spawn` starts its coroutines, which count
// finished commands into `done`.
template <class Spawn>
Sample measure(asio::io_context& io, long n, Spawn spawn) {
  long done = 0;
  const double cpu0 = thread_cpu_seconds();
  const auto t0 = Clock::now();
  spawn(done);
  while (done < n) io.run_one();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu = thread_cpu_seconds() - cpu0;
  return {static_cast<double>(n) / wall, cpu / static_cast<double>(n) * 1e6};
}

void report(const char* shape, std::vector<Sample> samples) {
  std::vector<double> rates, cpu;
  for (const auto& s : samples) {
    rates.push_back(s.per_second);
    cpu.push_back(s.cpu_us_per_command);
  }
  std::sort(rates.begin(), rates.end());
  std::sort(cpu.begin(), cpu.end());
  std::printf("%-11s median %9.0f commands/s (min %9.0f, max %9.0f), client CPU %.2f us/command\n", shape,
              rates[rates.size() / 2], rates.front(), rates.back(), cpu[cpu.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  sluice::RedisConfig config;
  if (auto bad = sluice::parse_redis_url(o.url, config)) usage(bad->c_str());
  config.command_timeout = std::chrono::seconds(10);

  asio::io_context io;
  Client redis(io.get_executor(), config);
  const std::string key = "sluice-bench:" + std::to_string(::getpid());
  redis.start();
  while (!redis.connected() && redis.last_error().empty()) io.run_one();
  if (!redis.connected()) {
    std::fprintf(stderr, "sluice_redis_bench: %s\n", redis.last_error().c_str());
    return 1;
  }
  std::printf("%ld commands per repetition, %d repetitions, %d coroutines, batches of %d; %s\n", o.commands, o.reps,
              o.coroutines, o.batch, redis.address().c_str());

  std::vector<Sample> a, c, p;
  for (int rep = 0; rep < o.reps; ++rep) {
    a.push_back(measure(io, o.commands, [&](long& done) {
      asio::co_spawn(io, awaited(redis, key, o.commands, done), asio::detached);
    }));
    c.push_back(measure(io, o.commands, [&](long& done) {
      for (int i = 0; i < o.coroutines; ++i)
        asio::co_spawn(io, awaited(redis, key, o.commands / o.coroutines + (i < o.commands % o.coroutines), done),
                       asio::detached);
    }));
    p.push_back(measure(io, o.commands, [&](long& done) {
      asio::co_spawn(io, pipelined(redis, key, o.commands, o.batch, done), asio::detached);
    }));
  }
  report("awaited", a);
  report("concurrent", c);
  report("pipelined", p);
  bool deleted = false;
  asio::co_spawn(io, remove(redis, key, deleted), asio::detached);
  while (!deleted) io.run_one();
  if (failures > 0) {
    std::fprintf(stderr, "sluice_redis_bench: %ld commands failed\n", failures);
    return 1;
  }
  return 0;
}
