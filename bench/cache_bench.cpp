// What a semantic-cache lookup costs: embed + search + verify, through
// Cache::lookup, with N entries in one partition (the worst case: one system
// prompt, every question in the same index), for ~1 KB prompts and the
// hashed-ngram embedder at the cache's size (kCacheHashedDimensions). A hit (a lightly reworded stored prompt) and
// a miss (an unrelated prompt) are measured apart, and the embedding alone;
// then the memory per entry (RSS growth while filling / entries, and the
// cache's own estimate, what max_bytes is enforced on). The embedding goes
// through the gateway's worker pool wrapper (cache::on_workers), which
// embeds a short prompt with hashed-ngram at once, on the calling thread.
//
// Everything is the real thing: the embedder, the index and the verifier
// (WordNet from /usr/share/wordnet). A near prompt is a stored one with a
// typo in one of its words and "Thanks!" added, which the verifier accepts,
// so the hit path runs every rule; with `--stand-in-verify` a verifier that
// accepts everything stands in, for the index alone.
//
//   cmake --build build --target sluice_cache_bench
//   build/bench/sluice_cache_bench [--stand-in-verify] [entries...]   (default: 10000 100000)
//
// Each size: fill, 2,000 lookups of each kind, then 2,000 stores into the
// full cache (each evicting one), with the store's embedding inline.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "sluice/cache/cache.hpp"
#include "sluice/cache/verifier.hpp"
#include "sluice/core/embedder.hpp"
#include "prompts.hpp"

namespace {

using namespace sluice;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using bench::prompt;


std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

cache::Key key_for(const std::string& text, const CacheConfig& config) {
  LlmRequest r;
  r.model = "gpt-4o";
  r.body = R"({"model":"gpt-4o","temperature":0,"messages":[{"role":"system","content":"You are a support agent."},)"
           R"({"role":"user","content":")" + text + R"("}]})";
  return cache::make_key(r, "bench", config).value();
}

template <class T>
T run(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> out;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { out.emplace(co_await std::move(task)); }, asio::detached);
  io.restart();
  io.run();
  return std::move(*out);
}

void run(asio::io_context& io, asio::awaitable<void> task) {
  asio::co_spawn(io, std::move(task), asio::detached);
  io.restart();
  io.run();
}

// This thread's CPU time: what a call cost without the time the scheduler
// gave to others (on a shared machine the wall-clock p99 is mostly theirs).
double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

void report(const char* name, std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  const auto at = [&](double q) { return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))]; };
  std::printf("  %-28s p50 %8.1f us  p99 %8.1f us  max %8.1f us  (%zu)\n", name, at(0.5), at(0.99), us.back(), us.size());
}

void measure(std::size_t entries, std::size_t queries, bool stand_in_verify) {
  asio::io_context io;
  CacheConfig config;
  config.enabled = true;
  config.max_entries = entries;
  config.max_bytes = std::size_t{64} << 30;
  config.semantic.enabled = true;
  config.semantic.threshold = 0.85;
  config.semantic.max_prompt_chars = 2048;
  std::shared_ptr<const Embedder> embedder = make_hashed_embedder(kCacheHashedDimensions);
  cache::CacheParts parts;
  parts.embedding = cache::on_workers(embedder, 1);
  if (stand_in_verify) {
    parts.verify = [](std::string_view, std::string_view) { return cache::Verdict{}; };
  } else {
    static const cache::Verifier verifier = cache::Verifier::load();
    parts.verify = [](std::string_view stored, std::string_view incoming) { return verifier.check(stored, incoming); };
  }
  auto c = cache::make_cache(config, std::move(parts));

  std::mt19937 rng(42);
  std::vector<std::string> stored;
  stored.reserve(entries);
  const std::string answer(1'000, 'a');
  const std::size_t rss_before = rss_bytes();
  const auto fill_start = Clock::now();
  for (std::size_t i = 0; i < entries; ++i) {
    stored.push_back(prompt(rng, 1'000));
    cache::Entry e;
    e.body = answer;
    run(io, c->store(key_for(stored.back(), config), std::move(e), {}));
  }
  const double fill_s = std::chrono::duration<double>(Clock::now() - fill_start).count();
  const std::size_t rss_after = rss_bytes();
  const auto stats = c->stats();
  std::printf("%zu entries (1 KB prompts, 1 KB answers, %s %zu-d): filled in %.1f s (%.0f us a store)\n",
              entries, std::string(embedder->name()).c_str(), embedder->dimensions(), fill_s, fill_s * 1e6 / static_cast<double>(entries));
  // Less the bench's own copy of the prompts.
  std::size_t own = stored.capacity() * sizeof(std::string);
  for (const auto& p : stored) own += p.capacity() + 1;
  std::printf("  memory per entry: RSS %.0f B, the cache's estimate %.0f B\n",
              (static_cast<double>(rss_after) - static_cast<double>(rss_before) - static_cast<double>(own)) /
                  static_cast<double>(entries),
              static_cast<double>(stats.bytes) / static_cast<double>(entries));

  std::vector<double> hit_us, miss_us, embed_us, exact_us, hit_cpu, miss_cpu;
  std::size_t hits = 0;
  std::uniform_int_distribution<std::size_t> pick(0, entries - 1);
  for (std::size_t q = 0; q < queries; ++q) {
    const std::string near = bench::near(stored[pick(rng)]);
    const cache::Key near_key = key_for(near, config);
    auto start = Clock::now();
    double cpu = thread_cpu_us();
    const auto found = run(io, c->lookup(near_key, std::nullopt));
    hit_cpu.push_back(thread_cpu_us() - cpu);
    hit_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    hits += found.outcome == cache::Outcome::hit_semantic;
    const cache::Key far_key = key_for("Tell me a story about dragons " + std::to_string(q) + " " + prompt(rng, 960), config);
    start = Clock::now();
    cpu = thread_cpu_us();
    (void)run(io, c->lookup(far_key, std::nullopt));
    miss_cpu.push_back(thread_cpu_us() - cpu);
    miss_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    start = Clock::now();
    (void)run(io, c->lookup(key_for(stored[pick(rng)], config), std::nullopt));
    exact_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    start = Clock::now();
    const auto v = embedder->embed(near);
    embed_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count() + v[0] * 0);
  }
  report("lookup, near (hit path)", hit_us);
  report("lookup, unrelated (miss)", miss_us);
  report("  near, CPU time", hit_cpu);
  report("  unrelated, CPU time", miss_cpu);
  report("lookup, exact hit", exact_us);
  report("embed alone (hashed-ngram)", embed_us);
  std::printf("  semantic hits on near prompts: %zu of %zu\n", hits, queries);

  // The cache full: each store evicts the least recently used entry (its
  // graph slot is reused: markDelete, then addPoint on the same label).
  std::vector<double> churn_us, churn_cpu;
  for (std::size_t q = 0; q < queries; ++q) {
    cache::Entry e;
    e.body = answer;
    const cache::Key k = key_for(prompt(rng, 1'000), config);
    const auto start = Clock::now();
    const double cpu = thread_cpu_us();
    run(io, c->store(k, std::move(e), {}));
    churn_cpu.push_back(thread_cpu_us() - cpu);
    churn_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  report("store when full (evicts one)", churn_us);
  report("  store, CPU time", churn_cpu);
  std::printf("  entries %zu, evictions %llu\n", c->stats().entries,
              static_cast<unsigned long long>(c->stats().evictions));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes;
  bool stand_in_verify = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--stand-in-verify") stand_in_verify = true;
    else sizes.push_back(static_cast<std::size_t>(std::strtoull(argv[i], nullptr, 10)));
  }
  if (sizes.empty()) sizes = {10'000, 100'000};
  for (const auto n : sizes) measure(n, 2'000, stand_in_verify);
}
