// What the cache's verifier costs on one candidate: Verifier::check on a
// stored prompt and a near one (bench/prompts.hpp: a typo and thanks added,
// which it accepts, so every rule runs), for
//   - ~1 KB prompts of made-up words (what sluice_cache_bench stores),
//   - ~1 KB prompts of English questions (tests/data/cache's sentences joined),
//   - the labelled pairs of tests/data/cache themselves (short questions).
// Each check here parses both prompts (a lookup parses its own once, and
// each candidate's). Single thread, CPU time per check.
//
//   cmake --build build --target sluice_verify_bench
//   build/bench/sluice_verify_bench [checks]   (default 2000)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sluice/cache/verifier.hpp"
#include "prompts.hpp"

namespace {

using namespace sluice;

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

void report(const char* name, std::vector<double>& us, std::size_t accepted) {
  std::sort(us.begin(), us.end());
  const auto at = [&](double q) { return us[static_cast<std::size_t>(q * static_cast<double>(us.size() - 1))]; };
  std::printf("  %-34s p50 %7.1f us  p99 %7.1f us  max %7.1f us  (%zu, %zu accepted)\n", name, at(0.5), at(0.99),
              us.back(), us.size(), accepted);
}

// Each pair checked once, in order; the first few calls warm the thread's
// parse buffers and are not counted.
void measure(const char* name, const cache::Verifier& verifier,
             const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::vector<double> us;
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const double start = thread_cpu_us();
    const auto verdict = verifier.check(pairs[i].first, pairs[i].second);
    const double took = thread_cpu_us() - start;
    if (i < 16) continue;
    us.push_back(took);
    accepted += verdict.same;
  }
  report(name, us, accepted);
}

std::vector<std::string> labelled_sentences(std::vector<std::pair<std::string, std::string>>& pairs) {
  std::vector<std::string> sentences;
  for (const char* file : {"dev.jsonl", "holdout.jsonl"}) {
    std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/tests/data/cache/" + file);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      const auto j = nlohmann::json::parse(line);
      pairs.emplace_back(j.at("a").get<std::string>(), j.at("b").get<std::string>());
      sentences.push_back(pairs.back().first);
    }
  }
  return sentences;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t checks = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000;
  const cache::Verifier verifier = cache::Verifier::load();
  std::printf("verifier: %zu lemmas, %zu antonym pairs, WordNet read in %.0f ms\n", verifier.lemma_count(),
              verifier.antonym_count(), verifier.load_millis());
  std::mt19937 rng(42);

  std::vector<std::pair<std::string, std::string>> made_up;
  for (std::size_t i = 0; i < checks; ++i) {
    std::string stored = bench::prompt(rng, 1'000);
    std::string near = bench::near(stored);
    made_up.emplace_back(std::move(stored), std::move(near));
  }
  measure("1 KB made-up words, near", verifier, made_up);

  std::vector<std::pair<std::string, std::string>> labelled;
  const std::vector<std::string> sentences = labelled_sentences(labelled);
  std::vector<std::pair<std::string, std::string>> english;
  std::uniform_int_distribution<std::size_t> pick(0, sentences.size() - 1);
  for (std::size_t i = 0; i < checks; ++i) {
    std::string stored;
    while (stored.size() < 1'000) (stored += sentences[pick(rng)]) += ' ';
    std::string near = bench::near(stored);
    english.emplace_back(std::move(stored), std::move(near));
  }
  measure("1 KB English questions, near", verifier, english);

  std::vector<std::pair<std::string, std::string>> short_pairs;
  while (short_pairs.size() < checks) short_pairs.insert(short_pairs.end(), labelled.begin(), labelled.end());
  measure("labelled pairs (short questions)", verifier, short_pairs);
}
