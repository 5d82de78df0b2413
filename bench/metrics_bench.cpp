// sluice_metrics_bench: what recording one request's metrics costs the event
// loop, with Sluice's own recorder (core/metrics.hpp) and, when the build
// found prometheus-cpp (Debian's prometheus-cpp-dev), with the same families
// recorded through prometheus-cpp's registry the way its API is meant to be
// used (Family::Add with the request's labels, then Increment / Observe).
//
// Each repetition records N request summaries spread over a realistic label
// mix (4 routes, 6 models, 3 providers, 5 statuses, 8 tenants; a third of
// them streams, one in ten an error) and prints ns per request: the median,
// min and max wall time over the repetitions. Then it renders one scrape of
// each and prints its size and time. Results go to stdout.
//
//   sluice_metrics_bench [--requests N] [--reps R]
//
// Quick by default (200k requests x 5 repetitions, well under a second per
// recorder); see docs/benchmarks.md, "Metrics cost".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "sluice/core/config.hpp"
#include "sluice/core/metrics.hpp"
#include "sluice/core/request_summary.hpp"

#ifdef SLUICE_BENCH_PROMETHEUS_CPP
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

const char* const kRoutes[] = {"/v1/chat/completions", "/v1/chat/completions", "/v1/messages", "/v1/embeddings"};
const char* const kModels[] = {"gpt-4o", "gpt-4o-mini", "claude", "llama", "embed", "auto"};
const char* const kProviders[] = {"openai", "azure", "anthropic"};
const char* const kTenants[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
const int kStatuses[] = {200, 200, 200, 429, 502};

sluice::GatewayConfig bench_config() {
  sluice::GatewayConfig config;
  for (const char* m : kModels) config.models.push_back({.name = m});
  for (const char* p : kProviders) config.providers.push_back({.name = p});
  for (const char* t : kTenants) config.auth.keys.push_back({.tenant = t});
  return config;
}

// The contexts requests finish with, built once so that only recording is timed.
struct Sample {
  sluice::RequestContext ctx;
  std::string path;
  int status = 200;
  bool stream = false;
  std::optional<sluice::Error> error;
};

std::vector<Sample> samples(std::size_t n) {
  std::vector<Sample> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    Sample& s = out[i];
    s.path = kRoutes[i % 4];
    s.ctx.model = s.ctx.group = kModels[i % 6];
    s.ctx.provider = kProviders[i % 3];
    s.ctx.tenant = kTenants[i % 8];
    s.status = kStatuses[i % 5];
    s.stream = i % 3 == 0;
    if (i % 10 == 0) s.error = sluice::make_error(sluice::errc::upstream_unavailable, "x");
    s.ctx.attempts = 1 + (i % 7 == 0);
    s.ctx.retries = i % 7 == 0;
    s.ctx.usage = {.prompt_tokens = 120 + static_cast<std::int64_t>(i % 50), .completion_tokens = 40, .known = true};
    s.ctx.price = sluice::Price{2.5, 10, 1.25};
    s.ctx.cache = i % 4 == 0 ? sluice::CacheDecision::hit_exact : sluice::CacheDecision::miss;
    s.ctx.upstream_time = std::chrono::milliseconds(100 + i % 300);
    if (i % 6 == 5) s.ctx.route_decision = "low";
  }
  return out;
}

sluice::RequestSummary summary_of(const Sample& s) {
  return {.ctx = s.ctx, .method = "POST", .path = s.path, .status = s.status, .stream = s.stream,
          .bytes_in = 500, .bytes_out = 900, .error = s.error ? &*s.error : nullptr,
          .total = std::chrono::milliseconds(350),
          .first_token = s.stream ? std::optional<Clock::duration>(std::chrono::milliseconds(120)) : std::nullopt,
          .provider_type = "openai"};
}

void report(const char* what, std::vector<double> ns) {
  std::sort(ns.begin(), ns.end());
  std::printf("%-16s ns/request: median %.1f  min %.1f  max %.1f\n", what, ns[ns.size() / 2], ns.front(), ns.back());
}

template <class F>
double time_ns_per(std::size_t n, F&& f) {
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / static_cast<double>(n);
}

#ifdef SLUICE_BENCH_PROMETHEUS_CPP
// The same families through prometheus-cpp: one Family per metric, labels
// per request, as its documentation shows.
struct PromRecorder {
  prometheus::Registry registry;
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter().Name("sluice_requests_total").Register(registry);
  prometheus::Family<prometheus::Counter>& errors =
      prometheus::BuildCounter().Name("sluice_request_errors_total").Register(registry);
  prometheus::Family<prometheus::Histogram>& duration =
      prometheus::BuildHistogram().Name("sluice_request_duration_seconds").Register(registry);
  prometheus::Family<prometheus::Counter>& attempts =
      prometheus::BuildCounter().Name("sluice_upstream_attempts_total").Register(registry);
  prometheus::Family<prometheus::Counter>& retries =
      prometheus::BuildCounter().Name("sluice_upstream_retries_total").Register(registry);
  prometheus::Family<prometheus::Histogram>& upstream =
      prometheus::BuildHistogram().Name("sluice_upstream_duration_seconds").Register(registry);
  prometheus::Family<prometheus::Histogram>& ttft =
      prometheus::BuildHistogram().Name("sluice_time_to_first_token_seconds").Register(registry);
  prometheus::Family<prometheus::Histogram>& tpot =
      prometheus::BuildHistogram().Name("sluice_time_per_output_token_seconds").Register(registry);
  prometheus::Family<prometheus::Counter>& tokens =
      prometheus::BuildCounter().Name("sluice_tokens_total").Register(registry);
  prometheus::Family<prometheus::Counter>& cost =
      prometheus::BuildCounter().Name("sluice_cost_usd_total").Register(registry);
  prometheus::Family<prometheus::Counter>& cache =
      prometheus::BuildCounter().Name("sluice_cache_lookups_total").Register(registry);
  prometheus::Family<prometheus::Counter>& router =
      prometheus::BuildCounter().Name("sluice_router_decisions_total").Register(registry);
  const prometheus::Histogram::BucketBoundaries latency{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                        1,     2.5,  5,     10,   30,  60,  120};
  const prometheus::Histogram::BucketBoundaries first{0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30};
  const prometheus::Histogram::BucketBoundaries per_token{0.001, 0.0025, 0.005, 0.01, 0.02, 0.03,
                                                          0.05,  0.075,  0.1,   0.2,  0.5};

  void record(const Sample& s) {
    const auto& c = s.ctx;
    const std::string status = std::to_string(s.status);
    requests.Add({{"route", s.path}, {"model", c.group}, {"provider", c.provider}, {"status", status}}).Increment();
    duration.Add({{"route", s.path}, {"model", c.group}}, latency).Observe(0.35);
    if (s.error) errors.Add({{"route", s.path}, {"reason", std::string(to_string(s.error->code))}}).Increment();
    attempts.Add({{"model", c.group}, {"provider", c.provider}}).Increment(c.attempts);
    retries.Add({{"model", c.group}, {"provider", c.provider}}).Increment(c.retries);
    upstream.Add({{"provider", c.provider}}, latency).Observe(std::chrono::duration<double>(c.upstream_time).count());
    if (s.stream) {
      ttft.Add({{"model", c.group}, {"provider", c.provider}}, first).Observe(0.12);
      tpot.Add({{"model", c.group}, {"provider", c.provider}}, per_token).Observe(0.23 / 39);
    }
    tokens.Add({{"tenant", c.tenant}, {"model", c.group}, {"type", "prompt"}}).Increment(c.usage.prompt_tokens);
    tokens.Add({{"tenant", c.tenant}, {"model", c.group}, {"type", "completion"}}).Increment(c.usage.completion_tokens);
    tokens.Add({{"tenant", c.tenant}, {"model", c.group}, {"type", "cached"}}).Increment(c.usage.cached_tokens);
    cost.Add({{"tenant", c.tenant}, {"model", c.group}}).Increment(*c.cost_usd());
    cache.Add({{"result", c.cache == sluice::CacheDecision::hit_exact ? "hit_exact" : "miss"}}).Increment();
    if (!c.route_decision.empty()) router.Add({{"router", c.model}, {"tier", c.route_decision}}).Increment();
  }
};
#endif

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 200'000;
  int reps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--requests")) n = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
  }
  const auto config = bench_config();
  const auto recorded = samples(n);
  std::vector<sluice::RequestSummary> summaries;
  summaries.reserve(n);
  for (const Sample& s : recorded) summaries.push_back(summary_of(s));

  {
    sluice::Metrics metrics(config);
    std::vector<double> ns;
    for (int r = 0; r < reps; ++r)
      ns.push_back(time_ns_per(n, [&] {
        for (const auto& s : summaries) metrics.record(s);
      }));
    report("sluice::Metrics", ns);
    std::string text;
    const double scrape_us = time_ns_per(1, [&] { text = metrics.scrape(); }) / 1000;
    std::printf("%-16s scrape: %zu bytes in %.0f us\n", "sluice::Metrics", text.size(), scrape_us);
  }
#ifdef SLUICE_BENCH_PROMETHEUS_CPP
  {
    PromRecorder prom;
    std::vector<double> ns;
    for (int r = 0; r < reps; ++r)
      ns.push_back(time_ns_per(n, [&] {
        for (const auto& s : recorded) prom.record(s);
      }));
    report("prometheus-cpp", ns);
    std::string text;
    const double scrape_us =
        time_ns_per(1, [&] { text = prometheus::TextSerializer().Serialize(prom.registry.Collect()); }) / 1000;
    std::printf("%-16s scrape: %zu bytes in %.0f us\n", "prometheus-cpp", text.size(), scrape_us);
  }
#else
  std::printf("prometheus-cpp: not found at configure time (apt-get install prometheus-cpp-dev, then re-run cmake)\n");
#endif
  return 0;
}
