// GET /metrics through the real gateway: the exposition parses strictly;
// real requests (a completion, a stream, an upstream error, a 429) move the
// counters and histograms by exactly what was sent; no key or prompt ever
// appears; metrics.enabled false turns it off; and every metric the Grafana
// dashboard (docker/grafana/sluice-dashboard.json) queries is exposed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gateway_fixture.hpp"
#include "support/fake_upstream.hpp"
#include "support/canary.hpp"
#include "support/test_client.hpp"

namespace sluice::test {
namespace {

using LabelSet = std::map<std::string, std::string>;

// One scrape, parsed. A violation of the text format (0.0.4) is recorded in
// `error` and parsing stops there.
struct Scrape {
  std::map<std::string, std::string> types;  // family -> counter | gauge | histogram
  struct Series {
    std::string name;
    LabelSet labels;
    double value;
  };
  std::vector<Series> series;
  std::string error;

  // Sum over the series of `name` whose labels include `match`.
  double sum(const std::string& name, const LabelSet& match = {}) const {
    double total = 0;
    for (const Series& s : series) {
      if (s.name != name) continue;
      if (std::all_of(match.begin(), match.end(), [&](const auto& kv) {
            auto it = s.labels.find(kv.first);
            return it != s.labels.end() && it->second == kv.second;
          }))
        total += s.value;
    }
    return total;
  }
};

bool metric_name(const std::string& s) {
  static const std::regex re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  return std::regex_match(s, re);
}

std::optional<double> parse_value(const std::string& text) {
  if (text == "+Inf") return HUGE_VAL;
  if (text == "-Inf") return -HUGE_VAL;
  if (text == "NaN") return std::nan("");
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

// Parses `{name="value",...}` at text[i] (i at '{'); advances i past '}'.
std::optional<LabelSet> parse_labels(const std::string& text, std::size_t& i, std::string& error) {
  LabelSet labels;
  ++i;
  while (i < text.size() && text[i] != '}') {
    const std::size_t eq = text.find('=', i);
    if (eq == std::string::npos) return error = "label without '='", std::nullopt;
    const std::string name = text.substr(i, eq - i);
    static const std::regex label_re("[a-zA-Z_][a-zA-Z0-9_]*");
    if (!std::regex_match(name, label_re)) return error = "bad label name '" + name + "'", std::nullopt;
    i = eq + 1;
    if (i >= text.size() || text[i] != '"') return error = "label value not quoted", std::nullopt;
    std::string value;
    for (++i; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\n') return error = "raw line feed in a label value", std::nullopt;
      if (text[i] != '\\') {
        value += text[i];
        continue;
      }
      if (++i >= text.size()) return error = "dangling escape", std::nullopt;
      if (text[i] == 'n') value += '\n';
      else if (text[i] == '\\' || text[i] == '"') value += text[i];
      else return error = "bad escape \\" + std::string(1, text[i]), std::nullopt;
    }
    if (i >= text.size()) return error = "unterminated label value", std::nullopt;
    ++i;  // the closing quote
    if (!labels.emplace(name, value).second) return error = "label " + name + " twice", std::nullopt;
    if (i < text.size() && text[i] == ',') ++i;
    else if (i < text.size() && text[i] != '}') return error = "expected ',' or '}' after a label", std::nullopt;
  }
  if (i >= text.size()) return error = "unterminated label set", std::nullopt;
  ++i;
  return labels;
}

Scrape parse_exposition(const std::string& text) {
  Scrape out;
  if (text.empty() || text.back() != '\n') {
    out.error = "the document does not end with a line feed";
    return out;
  }
  std::string family, family_type, help_for;
  std::set<std::string> seen_series;
  // histogram checks: per (family, labels without le): buckets in order
  struct Buckets {
    double last_le = -HUGE_VAL, last_count = 0, inf = -1, count = -1;
  };
  std::map<std::string, Buckets> histograms;
  std::istringstream lines(text);
  std::string line;
  int number = 0;
  auto fail = [&](const std::string& why) { out.error = "line " + std::to_string(number) + ": " + why + ": " + line; };
  while (std::getline(lines, line)) {
    ++number;
    if (line.empty()) return fail("empty line"), out;
    if (line.starts_with("# HELP ")) {
      const std::string rest = line.substr(7);
      help_for = rest.substr(0, rest.find(' '));
      if (!metric_name(help_for)) return fail("bad name in HELP"), out;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      std::istringstream words(line.substr(7));
      std::string name, type, extra;
      words >> name >> type;
      if (words >> extra) return fail("trailing words in TYPE"), out;
      if (name != help_for) return fail("TYPE without its HELP line first"), out;
      if (type != "counter" && type != "gauge" && type != "histogram") return fail("unexpected type"), out;
      if (out.types.count(name)) return fail("family declared twice"), out;
      if (type == "counter" && !name.ends_with("_total")) return fail("a counter's name must end in _total"), out;
      out.types[name] = type;
      family = name;
      family_type = type;
      continue;
    }
    if (line.starts_with("#")) return fail("unexpected comment"), out;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    const std::string name = line.substr(0, i);
    if (!metric_name(name)) return fail("bad metric name"), out;
    LabelSet labels;
    if (i < line.size() && line[i] == '{') {
      std::string why;
      auto parsed = parse_labels(line, i, why);
      if (!parsed) return fail(why), out;
      labels = std::move(*parsed);
    }
    if (i >= line.size() || line[i] != ' ') return fail("no space before the value"), out;
    const auto value = parse_value(line.substr(i + 1));
    if (!value) return fail("bad value"), out;
    // The sample belongs to the family announced last.
    std::string suffix;
    if (name != family) {
      for (const char* s : {"_bucket", "_sum", "_count"})
        if (family_type == "histogram" && name == family + s) suffix = s;
      if (suffix.empty()) return fail("sample outside its family (" + family + ")"), out;
    } else if (family_type == "histogram") {
      return fail("a histogram sample needs _bucket, _sum or _count"), out;
    }
    std::ostringstream key;
    key << name;
    for (const auto& [k, v] : labels) key << ',' << k << '=' << v;
    if (!seen_series.insert(key.str()).second) return fail("series repeated"), out;
    if (family_type == "histogram") {
      LabelSet base = labels;
      const auto le = base.find("le");
      std::string le_text;
      if (le != base.end()) {
        le_text = le->second;
        base.erase(le);
      }
      std::ostringstream id;
      id << family;
      for (const auto& [k, v] : base) id << ',' << k << '=' << v;
      Buckets& b = histograms[id.str()];
      if (suffix == "_bucket") {
        const auto bound = parse_value(le_text);
        if (!bound) return fail("bucket without a numeric le"), out;
        if (*bound <= b.last_le) return fail("buckets not in ascending le order"), out;
        if (*value < b.last_count) return fail("bucket counts not cumulative"), out;
        b.last_le = *bound;
        b.last_count = *value;
        if (std::isinf(*bound)) b.inf = *value;
      } else if (suffix == "_count") {
        b.count = *value;
      }
    }
    out.series.push_back({name, std::move(labels), *value});
  }
  for (const auto& [id, b] : histograms) {
    if (b.inf < 0) return out.error = id + ": no +Inf bucket", out;
    if (b.count != b.inf) return out.error = id + ": _count differs from the +Inf bucket", out;
  }
  return out;
}

const std::string kGatewayKey = test_secret("gw-metrics");
const std::string kProviderKey = test_secret("provider-metrics");
const std::string kPrompt = "canary prompt text 5f2e";

class Metrics : public ::testing::Test {
 protected:
  Metrics() {
    ::setenv("SLUICE_TEST_METRICS_KEY", kGatewayKey.c_str(), 1);
    ::setenv("SLUICE_TEST_METRICS_PROVIDER_KEY", kProviderKey.c_str(), 1);
  }
  ~Metrics() override {
    ::unsetenv("SLUICE_TEST_METRICS_KEY");
    ::unsetenv("SLUICE_TEST_METRICS_PROVIDER_KEY");
  }

  std::string yaml(const std::string& extra = {}) {
    return ConfigBuilder()
               .openai_provider("up", fake.base_url(), {{"api_key", "${SLUICE_TEST_METRICS_PROVIDER_KEY}"}})
               .model_with("gpt-test", {{"up", "gpt-test", {{"price", "{ input: 1000, output: 2000 }"}}}})
               .queue("max_wait", "0s")
               .yaml() +
           "auth:\n  keys:\n    - key: ${SLUICE_TEST_METRICS_KEY}\n      tenant: team-m\n" + extra;
  }

  // Scrapes until `ready` holds (the request just answered is recorded
  // right after its last byte is written, which may come a moment after
  // the client read it); at most 50 scrapes.
  Scrape scrape(std::uint16_t port, const std::function<bool(const Scrape&)>& ready = {}) {
    Scrape s;
    for (int i = 0; i < 50; ++i) {
      HttpResponse res = http_request(port, "GET", "/metrics");
      EXPECT_EQ(res.status, 200) << res.body;
      EXPECT_EQ(res.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
      last_text = res.body;
      s = parse_exposition(res.body);
      EXPECT_EQ(s.error, "");
      if (!ready || ready(s)) return s;
    }
    ADD_FAILURE() << "the scrape never showed the expected figures:\n" << last_text;
    return s;
  }

  HttpResponse chat(std::uint16_t port, json extra) {
    return http_request(port, "POST", "/v1/chat/completions", chat_body("gpt-test", std::move(extra), kPrompt),
                        {{"Authorization", "Bearer " + kGatewayKey}});
  }

  FakeUpstream fake;
  std::string last_text;
};

const LabelSet kChat = {{"route", "/v1/chat/completions"}, {"model", "gpt-test"}};

LabelSet with(LabelSet labels, const LabelSet& more) {
  labels.insert(more.begin(), more.end());
  return labels;
}

TEST_F(Metrics, CountersAndHistogramsMoveByExactlyWhatWasSent) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  const Scrape before = scrape(gw.port());
  ASSERT_EQ(before.error, "");

  // A completion, a stream (asking for usage), an upstream 400, an upstream 429.
  const HttpResponse plain = chat(gw.port(), {});
  ASSERT_EQ(plain.status, 200) << plain.body;
  const json plain_usage = parse_json(plain.body)["usage"];
  const HttpResponse stream = chat(gw.port(), {{"stream", true},
                                               {"stream_options", {{"include_usage", true}}},
                                               {"x_fake", {{"stream_chunks", 4}}}});
  ASSERT_EQ(stream.status, 200) << stream.body;
  json stream_usage;
  for (std::size_t at = stream.body.find("data: "); at != std::string::npos; at = stream.body.find("data: ", at + 1)) {
    const json event = parse_json(stream.body.substr(at + 6, stream.body.find('\n', at) - at - 6));
    if (event.is_object() && event.contains("usage") && event["usage"].is_object()) stream_usage = event["usage"];
  }
  ASSERT_TRUE(stream_usage.is_object()) << stream.body;
  EXPECT_EQ(chat(gw.port(), {{"x_fake", {{"status", 400}}}}).status, 400);
  const HttpResponse limited = chat(gw.port(), {{"x_fake", {{"status", 429}, {"retry_after_s", 30}}}});
  EXPECT_EQ(limited.status, 429) << limited.body;

  const auto chats = [](const Scrape& s) { return s.sum("sluice_requests_total", kChat); };
  const Scrape after = scrape(gw.port(), [&](const Scrape& s) { return chats(s) - chats(before) == 4; });
  auto delta = [&](const std::string& name, const LabelSet& match) {
    return after.sum(name, match) - before.sum(name, match);
  };

  EXPECT_EQ(delta("sluice_requests_total", with(kChat, {{"status", "200"}, {"provider", "up"}})), 2);
  EXPECT_EQ(delta("sluice_requests_total", with(kChat, {{"status", "400"}})), 1);
  EXPECT_EQ(delta("sluice_requests_total", with(kChat, {{"status", "429"}})), 1);
  EXPECT_EQ(delta("sluice_request_errors_total", {{"route", "/v1/chat/completions"}}), 2);
  EXPECT_EQ(delta("sluice_request_duration_seconds_count", kChat), 4);
  EXPECT_EQ(delta("sluice_request_duration_seconds_bucket", with(kChat, {{"le", "+Inf"}})), 4);
  EXPECT_EQ(delta("sluice_upstream_attempts_total", {{"model", "gpt-test"}}), 4);
  EXPECT_EQ(delta("sluice_upstream_cooldowns_total", {{"model", "gpt-test"}}), 1);
  EXPECT_EQ(delta("sluice_cache_lookups_total", {}), 4);

  // Only the stream has a time to first token, and its 4 tokens a time per later token.
  EXPECT_EQ(delta("sluice_time_to_first_token_seconds_count", {{"model", "gpt-test"}, {"provider", "up"}}), 1);
  EXPECT_EQ(delta("sluice_time_per_output_token_seconds_count", {{"model", "gpt-test"}, {"provider", "up"}}), 1);

  // Tokens and cost, per tenant, exactly as the answers reported them.
  const double prompt = plain_usage["prompt_tokens"].get<double>() + stream_usage["prompt_tokens"].get<double>();
  const double completion =
      plain_usage["completion_tokens"].get<double>() + stream_usage["completion_tokens"].get<double>();
  EXPECT_EQ(stream_usage["completion_tokens"], 4);
  const LabelSet tenant = {{"tenant", "team-m"}, {"model", "gpt-test"}};
  EXPECT_EQ(delta("sluice_tokens_total", with(tenant, {{"type", "prompt"}})), prompt);
  EXPECT_EQ(delta("sluice_tokens_total", with(tenant, {{"type", "completion"}})), completion);
  EXPECT_NEAR(delta("sluice_cost_usd_total", tenant), (prompt * 1000 + completion * 2000) / 1e6, 1e-9);

  // State read at scrape time: the 429 cooled the deployment down; this scrape is in flight.
  EXPECT_GT(after.sum("sluice_deployment_cooldown_seconds", {{"provider", "up"}, {"model", "gpt-test"}}), 20);
  EXPECT_EQ(after.sum("sluice_inflight_requests"), 1);
  EXPECT_GE(after.sum("sluice_open_connections"), 1);
  EXPECT_EQ(after.sum("sluice_build_info"), 1);
  EXPECT_EQ(after.sum("sluice_config_reloads_total"), 0);
  EXPECT_EQ(after.types.at("sluice_config_reloads_total"), "counter");

  // Nothing secret or personal in the exposition.
  EXPECT_EQ(last_text.find(kGatewayKey), std::string::npos);
  EXPECT_EQ(last_text.find(kProviderKey), std::string::npos);
  EXPECT_EQ(last_text.find(kPrompt), std::string::npos);
  EXPECT_EQ(last_text.find(plain.headers.at("x-request-id")), std::string::npos);
}

// An async job's run is recorded like a request (route "job"): its tokens
// and cost reach the tenant's totals, and its 202 counts under its route.
TEST_F(Metrics, AnAsyncJobsRunCountsItsTokensAndCost) {
  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  const Scrape before = scrape(gw.port());
  const Headers headers = {{"Authorization", "Bearer " + kGatewayKey}, {"Prefer", "respond-async"}};
  HttpResponse r = http_request(gw.port(), "POST", "/v1/chat/completions", chat_body("gpt-test", {}, kPrompt), headers);
  ASSERT_EQ(r.status, 202) << r.body;
  const std::string id = parse_json(r.body)["id"];
  json job = json::object();
  for (int i = 0; i < 100 && job.value("status", "") != "completed"; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    job = parse_json(http_request(gw.port(), "GET", "/v1/jobs/" + id, {}, {{"Authorization", "Bearer " + kGatewayKey}}).body);
  }
  ASSERT_EQ(job["status"], "completed") << job.dump();
  const json usage = job["response"]["body"]["usage"];
  const LabelSet run = {{"route", "job"}, {"model", "gpt-test"}, {"provider", "up"}, {"status", "200"}};
  const Scrape after = scrape(gw.port(), [&](const Scrape& s) { return s.sum("sluice_requests_total", run) == 1; });
  auto delta = [&](const std::string& name, const LabelSet& match) {
    return after.sum(name, match) - before.sum(name, match);
  };
  EXPECT_EQ(delta("sluice_requests_total", with(kChat, {{"status", "202"}})), 1);
  EXPECT_EQ(delta("sluice_upstream_attempts_total", {{"model", "gpt-test"}, {"provider", "up"}}), 1);
  const LabelSet tenant = {{"tenant", "team-m"}, {"model", "gpt-test"}};
  const double prompt = usage["prompt_tokens"].get<double>(), completion = usage["completion_tokens"].get<double>();
  EXPECT_GT(prompt, 0);
  EXPECT_EQ(delta("sluice_tokens_total", with(tenant, {{"type", "prompt"}})), prompt);
  EXPECT_EQ(delta("sluice_tokens_total", with(tenant, {{"type", "completion"}})), completion);
  EXPECT_NEAR(delta("sluice_cost_usd_total", tenant), (prompt * 1000 + completion * 2000) / 1e6, 1e-9);
}

TEST_F(Metrics, LoopbackNeedsNoKeyEvenWhenRequired) {
  Gateway gw(yaml("metrics:\n  require_key: true\n"));
  ASSERT_TRUE(gw.started());
  EXPECT_EQ(http_request(gw.port(), "GET", "/metrics").status, 200);
}

TEST_F(Metrics, DisabledMetricsAre404AndTheApiStillWorks) {
  Gateway gw(yaml("metrics:\n  enabled: false\n"));
  ASSERT_TRUE(gw.started());
  EXPECT_EQ(http_request(gw.port(), "GET", "/metrics").status, 404);
  EXPECT_EQ(chat(gw.port(), {}).status, 200);
}

// Every sluice_* name in the dashboard's queries, with a histogram's
// _bucket/_sum/_count folded into its family.
std::set<std::string> dashboard_metrics(const json& node) {
  std::set<std::string> names;
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (key == "expr" && value.is_string()) {
        static const std::regex name_re("sluice_[a-zA-Z0-9_]+");
        const std::string expr = value;
        for (auto it = std::sregex_iterator(expr.begin(), expr.end(), name_re); it != std::sregex_iterator(); ++it)
          names.insert(it->str());
      } else {
        names.merge(dashboard_metrics(value));
      }
    }
  } else if (node.is_array()) {
    for (const json& item : node) names.merge(dashboard_metrics(item));
  }
  return names;
}

std::vector<std::string> missing_from(const std::set<std::string>& queried, const Scrape& scrape) {
  std::vector<std::string> missing;
  for (const std::string& name : queried) {
    if (scrape.types.count(name)) continue;
    bool found = false;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!name.ends_with(suffix)) continue;
      const auto family = scrape.types.find(name.substr(0, name.size() - std::string_view(suffix).size()));
      found = found || (family != scrape.types.end() && family->second == "histogram");
    }
    if (!found) missing.push_back(name);
  }
  return missing;
}

TEST_F(Metrics, EveryMetricTheDashboardQueriesIsExposed) {
  std::ifstream file(std::string(SLUICE_SOURCE_DIR) + "/docker/grafana/sluice-dashboard.json");
  ASSERT_TRUE(file) << "docker/grafana/sluice-dashboard.json is missing";
  const json dashboard = json::parse(file, nullptr, false);
  ASSERT_FALSE(dashboard.is_discarded()) << "the dashboard is not JSON";
  const std::set<std::string> queried = dashboard_metrics(dashboard);
  ASSERT_GE(queried.size(), 10u) << "the dashboard queries fewer metrics than it should show";

  Gateway gw(yaml());
  ASSERT_TRUE(gw.started());
  const Scrape exposed = scrape(gw.port());
  const std::vector<std::string> missing = missing_from(queried, exposed);
  EXPECT_TRUE(missing.empty()) << "queried by the dashboard, not in /metrics: " << testing::PrintToString(missing);
  // The check itself can fail: a name no family has, and a histogram suffix on a counter.
  EXPECT_EQ(missing_from({"sluice_no_such_metric_total", "sluice_requests_total_bucket"}, exposed).size(), 2u);
}

TEST(ExpositionParser, RejectsWhatPrometheusWouldReject) {
  EXPECT_EQ(parse_exposition("# HELP a_total x\n# TYPE a_total counter\na_total 1\n").error, "");
  EXPECT_NE(parse_exposition("a_total 1\n").error, "");                                         // no family
  EXPECT_NE(parse_exposition("# HELP a x\n# TYPE a counter\na 1\n").error, "");                // counter without _total
  EXPECT_NE(parse_exposition("# HELP g x\n# TYPE g gauge\ng{l=\"a\\q\"} 1\n").error, "");     // bad escape
  EXPECT_NE(parse_exposition("# HELP g x\n# TYPE g gauge\ng 1x\n").error, "");                 // bad value
  EXPECT_NE(parse_exposition("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                             "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n").error, "");      // not cumulative
  EXPECT_NE(parse_exposition("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n").error,
            "");                                                                                // count != +Inf
}

}  // namespace
}  // namespace sluice::test
