// What scoring one request costs: the complexity scorer on 4 KiB prompts
// (pasted material with a short instruction, and 4 KiB that is all
// instruction, the worst case: every word is looked up), the whole
// ComplexityRouter::route with a rule and the heuristic, and a knn vote over
// the labelled set with the hashed embedder. Single thread; per-call times,
// p50 / p99 / max.
//
//   cmake --build build --target sluice_router_bench && build/bench/sluice_router_bench [iterations]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sluice/core/embedder.hpp"
#include "sluice/core/labelled_prompts.hpp"
#include "sluice/router/complexity.hpp"
#include "sluice/router/router.hpp"

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;

template <typename F>
void measure(const char* name, int iterations, F&& f) {
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(iterations));
  double sink = 0;
  for (int i = 0; i < iterations / 10; ++i) sink += f();  // warm up
  for (int i = 0; i < iterations; ++i) {
    const auto start = Clock::now();
    sink += f();
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::sort(us.begin(), us.end());
  const auto at = [&](double q) { return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))]; };
  std::printf("%-44s p50 %7.2f us  p99 %7.2f us  max %8.2f us  (%d calls; %g)\n", name, at(0.5), at(0.99), us.back(),
              iterations, sink > 0 ? 1.0 : 0.0);
}

std::string four_kib(std::string paragraph, const std::string& tail) {
  std::string text;
  while (text.size() + paragraph.size() + tail.size() < 4096) text += paragraph;
  text += tail;
  text.resize(std::max<std::size_t>(text.size(), 4096), ' ');
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 20000;
  LlmRequest pasted;
  pasted.model = "auto";
  pasted.messages = {{"system", "You are a helpful assistant."},
                     {"user", four_kib("The council met on Tuesday to discuss the redevelopment of the old rail yard. "
                                       "Supporters argued that it would bring housing; opponents raised traffic.\n\n",
                                       "Summarise the arguments above in three bullet points, then say which side "
                                       "has the stronger case and why.")}};
  LlmRequest instruction = pasted;
  instruction.messages[1].text =
      four_kib("Design a rate limiter for a multi-region gateway that enforces a global per-customer limit, "
               "tolerates a partitioned region, explain the algorithm, prove it never overshoots by more than 5%, ",
               "and compare it with a token bucket.");
  std::printf("prompt sizes: %zu and %zu bytes\n", pasted.messages[1].text.size(), instruction.messages[1].text.size());

  measure("assess: 4 KiB pasted text + instruction", iterations,
          [&] { return router::assess(pasted).score; });
  measure("assess: 4 KiB of instruction", iterations, [&] { return router::assess(instruction).score; });

  RouterConfig config;
  config.tiers = {{"low", "a", 0}, {"medium", "b", kRouterMediumScore}, {"high", "c", kRouterHighScore}};
  RouterRule rule;
  rule.last_turn = "(?i)\\bquarterly report\\b";
  rule.tier = "high";
  config.rules = {rule};
  const std::vector<RouterConfig> configs{config};
  router::ComplexityRouter routing(configs, nullptr);
  const std::vector<Header> headers;
  measure("route: 1 rule (RE2) + heuristic, 4 KiB", iterations,
          [&] { return routing.route({instruction, "", headers})->score.value_or(0); });

  const std::string examples = std::string(SLUICE_SOURCE_DIR) + "/tests/data/router/dev.jsonl";
  LabelledPrompts set = read_labelled_prompts(examples);
  if (set.problems.empty()) {
    RouterConfig knn = config;
    knn.rules.clear();
    knn.mode = RouterMode::knn;
    knn.example_prompts = std::move(set.prompts);
    const std::vector<RouterConfig> knn_configs{knn};
    const auto embedder = make_hashed_embedder();
    router::ComplexityRouter knn_routing(knn_configs, embedder.get());
    measure("route: knn over 210 examples, 4 KiB", iterations / 10,
            [&] { return knn_routing.route({instruction, "", headers})->score.value_or(0); });
  }
  return 0;
}
