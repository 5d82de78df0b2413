// Metrics: what one request summary moves, bounded labels ("other" for what
// the configuration does not name), every family declared before it has a
// sample, and scrape-time collectors after the recorded families.
#include "sluice/core/metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>

namespace sluice {
namespace {

using namespace std::chrono_literals;

GatewayConfig config() {
  GatewayConfig c;
  c.providers.push_back({.name = "openai"});
  c.models.push_back({.name = "gpt-4o"});
  c.models.push_back({.name = "fast"});
  RouterConfig router;
  router.alias = "auto";
  router.tiers = {{"low", "fast", 0}, {"high", "gpt-4o", 0.5}};
  c.routers.push_back(router);
  GatewayKeyConfig key;
  key.tenant = "team-a";
  c.auth.keys.push_back(key);
  return c;
}

// The value of the sample line `series` (name and labels as written), or -1.
double value_of(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line))
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  return -1;
}

bool declares(const std::string& text, const std::string& family, const std::string& type) {
  return text.find("# TYPE " + family + " " + type + "\n") != std::string::npos &&
         text.find("# HELP " + family + " ") != std::string::npos;
}

struct Request {
  RequestContext ctx;
  std::string path = "/v1/chat/completions";
  int status = 200;
  std::optional<Error> error;
  RequestContext::Clock::duration total = 2s;
  std::optional<RequestContext::Clock::duration> first_token;

  RequestSummary summary() const {
    return {.ctx = ctx, .method = "POST", .path = path, .status = status, .stream = first_token.has_value(),
            .error = error ? &*error : nullptr, .total = total, .first_token = first_token};
  }
};

Request chat(std::string model, std::string tenant = "team-a") {
  Request r;
  r.ctx.model = r.ctx.group = std::move(model);
  r.ctx.tenant = std::move(tenant);
  r.ctx.provider = "openai";
  r.ctx.upstream_model = "gpt-4o-2024-08-06";
  r.ctx.attempts = 1;
  r.ctx.cache = CacheDecision::miss;
  r.ctx.usage = {.prompt_tokens = 100, .completion_tokens = 21, .known = true, .cached_tokens = 40};
  r.ctx.price = Price{.input = 2, .output = 10, .cached_input = 1};
  r.ctx.upstream_time = 300ms;
  return r;
}

TEST(Metrics, EveryFamilyIsDeclaredBeforeAnyRequest) {
  const std::string text = Metrics(config()).scrape();
  for (const char* counter :
       {"sluice_requests_total", "sluice_request_errors_total", "sluice_upstream_attempts_total",
        "sluice_upstream_retries_total", "sluice_upstream_cooldowns_total", "sluice_tokens_total",
        "sluice_cost_usd_total", "sluice_cache_lookups_total", "sluice_router_decisions_total",
        "sluice_config_reloads_total"})
    EXPECT_TRUE(declares(text, counter, "counter")) << counter;
  for (const char* histogram :
       {"sluice_request_duration_seconds", "sluice_upstream_duration_seconds", "sluice_time_to_first_token_seconds",
        "sluice_time_per_output_token_seconds", "sluice_cache_hit_similarity", "sluice_queue_wait_seconds"})
    EXPECT_TRUE(declares(text, histogram, "histogram")) << histogram;
  EXPECT_EQ(value_of(text, "sluice_config_reloads_total{result=\"success\"}"), 0);
  EXPECT_EQ(value_of(text, "sluice_config_reloads_total{result=\"failure\"}"), 0);
  EXPECT_EQ(value_of(text, "sluice_build_info{version=\"" SLUICE_VERSION "\"}"), 1);
  EXPECT_EQ(value_of(text, "sluice_cache_lookups_total{result=\"hit_semantic\"}"), 0);
}

TEST(Metrics, ARequestMovesItsCountersTokensCostAndDuration) {
  Metrics m(config());
  const Request r = chat("gpt-4o");
  m.record(r.summary());
  m.record(r.summary());
  const std::string text = m.scrape();
  EXPECT_EQ(value_of(text, "sluice_requests_total{route=\"/v1/chat/completions\",model=\"gpt-4o\",provider=\"openai\","
                           "status=\"200\"}"),
            2);
  EXPECT_EQ(value_of(text, "sluice_tokens_total{tenant=\"team-a\",model=\"gpt-4o\",type=\"prompt\"}"), 200);
  EXPECT_EQ(value_of(text, "sluice_tokens_total{tenant=\"team-a\",model=\"gpt-4o\",type=\"completion\"}"), 42);
  EXPECT_EQ(value_of(text, "sluice_tokens_total{tenant=\"team-a\",model=\"gpt-4o\",type=\"cached\"}"), 80);
  // Per request: 60 prompt tokens at 2, 40 cached at 1, 21 completion at 10 per million.
  EXPECT_NEAR(value_of(text, "sluice_cost_usd_total{tenant=\"team-a\",model=\"gpt-4o\"}"),
              2 * (60 * 2 + 40 * 1 + 21 * 10) / 1e6, 1e-12);
  EXPECT_EQ(value_of(text, "sluice_request_duration_seconds_bucket{route=\"/v1/chat/completions\",model=\"gpt-4o\","
                           "le=\"1\"}"),
            0);
  EXPECT_EQ(value_of(text, "sluice_request_duration_seconds_bucket{route=\"/v1/chat/completions\",model=\"gpt-4o\","
                           "le=\"2.5\"}"),
            2);
  EXPECT_EQ(value_of(text, "sluice_request_duration_seconds_sum{route=\"/v1/chat/completions\",model=\"gpt-4o\"}"), 4);
  EXPECT_EQ(value_of(text, "sluice_upstream_attempts_total{model=\"gpt-4o\",provider=\"openai\"}"), 2);
  EXPECT_EQ(value_of(text, "sluice_upstream_duration_seconds_count{provider=\"openai\"}"), 2);
  EXPECT_EQ(value_of(text, "sluice_cache_lookups_total{result=\"miss\"}"), 2);
  // Not a stream: no time to first token.
  EXPECT_EQ(text.find("sluice_time_to_first_token_seconds_count"), std::string::npos);
}

TEST(Metrics, NamesTheConfigurationDoesNotKnowBecomeOther) {
  Metrics m(config());
  Request r = chat("my-secret-prompt-model", "intruder");
  r.ctx.provider = "elsewhere";
  r.path = "/v1/some/unknown/path";
  m.record(r.summary());
  const std::string text = m.scrape();
  EXPECT_EQ(text.find("my-secret-prompt-model"), std::string::npos);
  EXPECT_EQ(text.find("intruder"), std::string::npos);
  EXPECT_EQ(text.find("elsewhere"), std::string::npos);
  EXPECT_EQ(text.find("/v1/some/unknown/path"), std::string::npos);
  EXPECT_EQ(value_of(text, "sluice_requests_total{route=\"other\",model=\"other\",provider=\"other\",status=\"200\"}"),
            1);
  EXPECT_EQ(value_of(text, "sluice_tokens_total{tenant=\"other\",model=\"other\",type=\"prompt\"}"), 100);
}

TEST(Metrics, PathParametersAreFoldedIntoTheRoutePattern) {
  Metrics m(config());
  Request r;
  r.path = "/v1/jobs/job_0123456789abcdef";
  r.status = 404;
  m.record(r.summary());
  const std::string text = m.scrape();
  EXPECT_EQ(text.find("job_0123456789abcdef"), std::string::npos);
  EXPECT_EQ(value_of(text, "sluice_requests_total{route=\"/v1/jobs/{id}\",model=\"\",provider=\"\",status=\"404\"}"),
            1);
  // Not an LLM call: the cache had no say.
  EXPECT_EQ(value_of(text, "sluice_cache_lookups_total{result=\"none\"}"), 0);
}

TEST(Metrics, StreamsRecordTimeToFirstTokenAndTimePerLaterToken) {
  Metrics m(config());
  Request r = chat("gpt-4o");
  r.first_token = 400ms;
  r.total = 2400ms;  // 20 tokens after the first in 2 s: 0.1 s each
  m.record(r.summary());
  const std::string text = m.scrape();
  EXPECT_EQ(value_of(text, "sluice_time_to_first_token_seconds_bucket{model=\"gpt-4o\",provider=\"openai\",le=\"0.25\"}"),
            0);
  EXPECT_EQ(value_of(text, "sluice_time_to_first_token_seconds_bucket{model=\"gpt-4o\",provider=\"openai\",le=\"0.5\"}"),
            1);
  EXPECT_NEAR(value_of(text, "sluice_time_per_output_token_seconds_sum{model=\"gpt-4o\",provider=\"openai\"}"), 0.1,
              1e-9);
}

TEST(Metrics, ErrorsRetriesCooldownsAndTheirReasons) {
  Metrics m(config());
  Request r = chat("gpt-4o");
  r.status = 429;
  r.error = make_error(errc::rate_limited, "no capacity");
  r.ctx.attempts = 3;
  r.ctx.retries = 1;
  r.ctx.cooldowns = 1;
  m.record(r.summary());
  const std::string text = m.scrape();
  EXPECT_EQ(value_of(text, "sluice_request_errors_total{route=\"/v1/chat/completions\",reason=\"" +
                               std::string(to_string(errc::rate_limited)) + "\"}"),
            1);
  EXPECT_EQ(value_of(text, "sluice_upstream_attempts_total{model=\"gpt-4o\",provider=\"openai\"}"), 3);
  EXPECT_EQ(value_of(text, "sluice_upstream_retries_total{model=\"gpt-4o\",provider=\"openai\"}"), 1);
  EXPECT_EQ(value_of(text, "sluice_upstream_cooldowns_total{model=\"gpt-4o\",provider=\"openai\"}"), 1);
}

TEST(Metrics, CacheRouterAndQueueDecisions) {
  Metrics m(config());
  Request hit = chat("fast");
  hit.ctx.model = "auto";
  hit.ctx.route_decision = "low";
  hit.ctx.cache = CacheDecision::hit_semantic;
  hit.ctx.cache_similarity = 0.93f;
  hit.ctx.queued = 1500ms;
  m.record(hit.summary());
  Request odd = chat("gpt-4o");
  odd.ctx.model = "auto";
  odd.ctx.route_decision = "made-up-tier";
  m.record(odd.summary());
  const std::string text = m.scrape();
  EXPECT_EQ(value_of(text, "sluice_cache_lookups_total{result=\"hit_semantic\"}"), 1);
  EXPECT_EQ(value_of(text, "sluice_cache_hit_similarity_bucket{le=\"0.92\"}"), 0);
  EXPECT_EQ(value_of(text, "sluice_cache_hit_similarity_bucket{le=\"0.94\"}"), 1);
  EXPECT_EQ(value_of(text, "sluice_router_decisions_total{router=\"auto\",tier=\"low\"}"), 1);
  EXPECT_EQ(value_of(text, "sluice_router_decisions_total{router=\"auto\",tier=\"other\"}"), 1);
  // The model label is the group that served: the alias's tier group.
  EXPECT_EQ(value_of(text, "sluice_queue_wait_seconds_bucket{model=\"fast\",le=\"2.5\"}"), 1);
  EXPECT_EQ(value_of(text, "sluice_queue_wait_seconds_bucket{model=\"fast\",le=\"1\"}"), 0);
}

TEST(Metrics, ReloadsAndCollectorsAppearInTheScrape) {
  Metrics m(config());
  m.count_reload(true);
  m.count_reload(false);
  m.count_reload(false);
  int calls = 0;
  m.add_collector([&calls](Exposition& out) {
    ++calls;
    out.family("sluice_test_gauge", "A test gauge.", Exposition::Type::gauge);
    out.sample("sluice_test_gauge", {}, 7);
  });
  const std::string text = m.scrape();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(value_of(text, "sluice_config_reloads_total{result=\"success\"}"), 1);
  EXPECT_EQ(value_of(text, "sluice_config_reloads_total{result=\"failure\"}"), 2);
  EXPECT_EQ(value_of(text, "sluice_test_gauge"), 7);
  EXPECT_GT(text.find("sluice_test_gauge"), text.find("sluice_build_info"));
}

TEST(Metrics, AReloadAddsTheNewNamesKeepsTheOldSeriesAndDropsTheCollectors) {
  Metrics m(config());
  m.record(chat("gpt-4o", "team-a").summary());
  m.add_collector([](Exposition& out) {
    out.family("sluice_test_gauge", "A test gauge.", Exposition::Type::gauge);
    out.sample("sluice_test_gauge", {}, 7);
  });
  GatewayConfig next;
  next.providers.push_back({.name = "anthropic"});
  next.models.push_back({.name = "claude"});
  GatewayKeyConfig key;
  key.tenant = "team-b";
  next.auth.keys.push_back(key);
  m.reconfigure(next);
  Request r = chat("claude", "team-b");
  r.ctx.provider = "anthropic";
  m.record(r.summary());
  const std::string text = m.scrape();
  EXPECT_EQ(value_of(text, "sluice_requests_total{route=\"/v1/chat/completions\",model=\"claude\",provider=\"anthropic\","
                           "status=\"200\"}"),
            1);
  EXPECT_EQ(value_of(text, "sluice_tokens_total{tenant=\"team-b\",model=\"claude\",type=\"prompt\"}"), 100);
  EXPECT_EQ(value_of(text, "sluice_tokens_total{tenant=\"team-a\",model=\"gpt-4o\",type=\"prompt\"}"), 100)
      << "a name the new configuration dropped keeps its series";
  EXPECT_EQ(text.find("sluice_test_gauge"), std::string::npos) << "the new parts add their own collectors";
}

}  // namespace
}  // namespace sluice
