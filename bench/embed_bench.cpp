// What one use-lite embedding costs: a short sentence (9 pieces) and a
// ~1 KB prompt (over the model's 128 pieces, so the worst case), plus the
// hashed-ngram embedder on the same prompt for scale. Single thread;
// per-call times, p50 / p99 / max. The instruction set is the build's
// (-DSLUICE_ARCH=..., docs/development.md): say which when quoting numbers.
//
//   cmake --build build --target sluice_embed_bench sluice_use_lite_weights &&
//   build/bench/sluice_embed_bench [iterations] [weights dir]
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sluice/core/embedder.hpp"
#include "sluice/embed/use_lite.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// This thread's CPU time: on a shared machine, what the call cost without
// the time the scheduler gave to others.
double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

void measure(const char* name, int iterations, const sluice::Embedder& embedder, const std::string& text) {
  std::vector<double> us;
  std::vector<double> cpu;
  us.reserve(static_cast<std::size_t>(iterations));
  cpu.reserve(static_cast<std::size_t>(iterations));
  double sink = 0;
  for (int i = 0; i < std::max(3, iterations / 10); ++i) sink += embedder.embed(text)[0];  // warm up
  for (int i = 0; i < iterations; ++i) {
    const auto start = Clock::now();
    const double cpu_start = thread_cpu_us();
    sink += embedder.embed(text)[0];
    cpu.push_back(thread_cpu_us() - cpu_start);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::sort(us.begin(), us.end());
  std::sort(cpu.begin(), cpu.end());
  const auto at = [](const std::vector<double>& v, double q) {
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
  };
  std::printf("%-38s p50 %8.1f us  p99 %8.1f us  max %8.1f us  cpu p50 %8.1f us  (%d calls; %g)\n", name,
              at(us, 0.5), at(us, 0.99), us.back(), at(cpu, 0.5), iterations, sink != 0 ? 1.0 : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
  auto loaded = argc > 2 ? sluice::embed::load_use_lite(argv[2]) : sluice::embed::load_use_lite();
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
    return 1;
  }
  const std::string sentence = "Will it rain in Berlin tomorrow afternoon?";
  std::string prompt =
      "You are reviewing a pull request for a reverse proxy written in C++. The change adds a semantic cache "
      "in front of the model providers: the last user turn is embedded, the nearest stored prompts are found "
      "in an HNSW index partitioned by tenant and parameters, and each candidate is verified for numbers, "
      "negations and swapped entities before its answer is served. Summarise the risks of this design for a "
      "production deployment, in particular what happens when two replicas share entries through Redis, how "
      "the memory budget holds under a flood of unique prompts, and whether the embedding cost on the request "
      "path is acceptable compared with the latency of an upstream call. Suggest tests that would catch a "
      "wrong cached answer, and list the metrics an operator would need to trust the cache in production. Finally, estimate how many "
      "upstream calls a day the cache would save for a support chatbot answering ten thousand questions.";
  std::printf("%-40s %zu bytes\n", "prompt", prompt.size());
  measure("use-lite, short sentence", iterations, *loaded.value(), sentence);
  measure("use-lite, ~1 KB prompt (128 pieces)", iterations, *loaded.value(), prompt);
  const auto hashed = sluice::make_hashed_embedder(512);
  measure("hashed-ngram, ~1 KB prompt", iterations, *hashed, prompt);
  return 0;
}
