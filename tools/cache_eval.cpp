// sluice-cache-eval: how often the semantic cache would serve a right or a
// wrong answer on labelled prompt pairs.
//
//   sluice-cache-eval --config FILE [--embedder hashed-ngram|use-lite] [--weights DIR]
//                     [--wordnet DIR] [--threshold X] [--sample N] [--errors]
//                     [--min-precision P] [--min-recall R] PAIRS...
//
// Every pair's "a" is stored (one entry per distinct text); every "b" is
// looked up as the cache does: the entries nearest by cosine above the
// threshold, at most cache.semantic.candidates of them, nearest first; the
// first the verifier accepts is served. A hit is right when it serves the
// pair's own "a" and the pair is labelled the same; any other hit is a
// false hit. Prints precision, recall and the false-hit rate at the
// threshold and over a sweep, with and without the verifier. With
// --min-precision / --min-recall it exits 1 when the verifier's figures at
// the threshold fall short: a regression test.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cache_pairs.hpp"
#include "sluice/cache/verifier.hpp"
#include "sluice/core/config.hpp"
#include "sluice/core/embedder.hpp"
#include "sluice/embed/use_lite.hpp"

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;

int usage() {
  std::fputs("usage: sluice-cache-eval --config FILE [--embedder hashed-ngram|use-lite] [--weights DIR]\n"
             "         [--wordnet DIR] [--threshold X] [--sample N] [--errors]\n"
             "         [--min-precision P] [--min-recall R] PAIRS.jsonl|PUBLIC.json...\n", stderr);
  return 2;
}

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// The embedder asked for; use-lite needs its weights.
std::unique_ptr<Embedder> make_embedder(const std::string& name, const std::string& weights) {
  if (name == "hashed-ngram") return make_hashed_embedder(kCacheHashedDimensions);
  auto loaded = weights.empty() ? embed::load_use_lite() : embed::load_use_lite(weights);
  if (loaded) return std::move(loaded).value();
  std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
  return nullptr;
}

struct Candidate {
  std::size_t entry;
  float similarity;
  bool accepted;  // by the verifier
};

struct Query {
  std::size_t own = 0;  // the entry of the pair's own "a"
  bool same = false;
  std::size_t twin = SIZE_MAX;  // an entry whose text is this query's, from another pair
  std::vector<Candidate> nearest;  // above the sweep's lowest threshold, nearest first, at most k
};

struct Score {
  std::size_t right = 0, right_positive = 0, wrong = 0, positives = 0, queries = 0;
  double precision() const { return right + wrong ? double(right) / double(right + wrong) : 1.0; }
  double recall() const { return positives ? double(right_positive) / double(positives) : 0.0; }
  double false_hit_rate() const { return queries ? double(wrong) / double(queries) : 0.0; }
};

// Serving the pair's own "a" to a pair labelled the same, or an entry of
// another pair whose text is the query's own: the right answer.
bool right_hit(const Query& q, const Candidate& hit) { return (hit.entry == q.own && q.same) || hit.entry == q.twin; }

// What the cache serves to each query at `threshold`: the nearest candidate
// (verify = false) or the nearest the verifier accepts.
Score score(const std::vector<Query>& queries, double threshold, bool verify, std::vector<const Candidate*>* served = nullptr) {
  Score s;
  for (const Query& q : queries) {
    ++s.queries;
    s.positives += q.same;
    const Candidate* hit = nullptr;
    for (const Candidate& c : q.nearest)
      if (c.similarity >= threshold && (!verify || c.accepted)) {
        hit = &c;
        break;
      }
    if (served) served->push_back(hit);
    if (!hit) continue;
    const bool right = right_hit(q, *hit);
    (right ? s.right : s.wrong)++;
    s.right_positive += right && q.same;
  }
  return s;
}

void print_row(const char* label, const Score& s) {
  std::printf("  %-22s precision %.3f  recall %.3f  false-hit rate %.3f  (%zu right, %zu wrong hits)\n", label,
              s.precision(), s.recall(), s.false_hit_rate(), s.right, s.wrong);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, embedder_name, weights, wordnet = "/usr/share/wordnet";
  std::vector<std::string> files;
  double threshold = -1, min_precision = -1, min_recall = -1;
  std::size_t sample = 0;
  bool errors = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--config" && has_value) config_path = argv[++i];
    else if (arg == "--embedder" && has_value) embedder_name = argv[++i];
    else if (arg == "--weights" && has_value) weights = argv[++i];
    else if (arg == "--wordnet" && has_value) wordnet = argv[++i];
    else if (arg == "--threshold" && has_value) threshold = std::atof(argv[++i]);
    else if (arg == "--sample" && has_value) sample = std::strtoul(argv[++i], nullptr, 10);
    else if (arg == "--min-precision" && has_value) min_precision = std::atof(argv[++i]);
    else if (arg == "--min-recall" && has_value) min_recall = std::atof(argv[++i]);
    else if (arg == "--errors") errors = true;
    else if (arg.starts_with("--")) return usage();
    else files.push_back(arg);
  }
  if (config_path.empty() || files.empty()) return usage();
  ConfigLoadResult loaded = load_config_file(config_path);
  if (!loaded.config) {
    std::fputs(format_problems(config_path, loaded.problems).c_str(), stderr);
    return 1;
  }
  const SemanticCacheConfig& semantic = loaded.config->cache.semantic;
  if (threshold < 0) threshold = semantic.threshold;
  if (weights.empty()) weights = semantic.weights_dir;
  if (embedder_name.empty()) embedder_name = semantic.embedder == "hashed-ngram" ? "hashed-ngram" : "use-lite";
  const auto embedder = make_embedder(embedder_name, weights);
  if (!embedder) return 1;
  const std::size_t k = static_cast<std::size_t>(std::max(1, semantic.candidates));

  std::vector<tools::PromptPair> pairs;
  for (const std::string& file : files)
    if (!tools::read_pairs(file, sample, pairs)) return 1;
  const auto verifier = cache::Verifier::load(wordnet);
  if (!verifier.lexicon_warning().empty()) std::fprintf(stderr, "warning: %s\n", verifier.lexicon_warning().c_str());

  // The entries: each distinct "a", embedded once.
  std::map<std::string, std::size_t> entry_of;
  std::vector<std::string> entries;
  std::vector<std::vector<float>> vectors;
  Clock::duration embed_time{};
  std::size_t embedded = 0;
  auto embed = [&](const std::string& text) {
    const auto start = Clock::now();
    auto v = embedder->embed(text.substr(0, semantic.max_prompt_chars));
    embed_time += Clock::now() - start;
    ++embedded;
    return v;
  };
  for (const auto& p : pairs)
    if (entry_of.emplace(p.a, entries.size()).second) {
      entries.push_back(p.a);
      vectors.push_back(embed(p.a));
    }

  std::vector<Query> queries;
  Clock::duration check_time{};
  std::size_t checks = 0;
  for (const auto& p : pairs) {
    Query q{entry_of[p.a], p.same, SIZE_MAX, {}};
    if (const auto twin = entry_of.find(p.b); twin != entry_of.end()) q.twin = twin->second;
    const std::vector<float> v = embed(p.b);
    std::vector<Candidate> all;
    for (std::size_t e = 0; e < entries.size(); ++e)
      if (const float sim = cosine(v, vectors[e]); sim >= 0.5f) all.push_back({e, sim, false});
    const std::size_t keep = std::min(k, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(),
                      [](const Candidate& x, const Candidate& y) { return x.similarity > y.similarity; });
    all.resize(keep);
    for (Candidate& c : all) {
      const auto start = Clock::now();
      c.accepted = verifier.check(entries[c.entry], p.b).same;
      check_time += Clock::now() - start;
      ++checks;
    }
    q.nearest = std::move(all);
    queries.push_back(std::move(q));
  }

  const std::size_t positives = std::count_if(pairs.begin(), pairs.end(), [](const auto& p) { return p.same; });
  std::printf("%zu pairs (%zu same, %zu different), %zu entries; embedder %s (%zu-d), %zu candidates a lookup\n",
              pairs.size(), positives, pairs.size() - positives, entries.size(), std::string(embedder->name()).c_str(),
              embedder->dimensions(), k);
  std::printf("cost: embed %.1f us a prompt, verify %.1f us a candidate; WordNet loaded in %.0f ms (%zu lemmas, "
              "%zu antonym pairs)\n",
              embedded ? micros(embed_time) / double(embedded) : 0.0, checks ? micros(check_time) / double(checks) : 0.0,
              verifier.load_millis(), verifier.lemma_count(), verifier.antonym_count());
  std::printf("\nat threshold %.2f:\n", threshold);
  std::vector<const Candidate*> served;
  const Score plain = score(queries, threshold, false), verified = score(queries, threshold, true, &served);
  print_row("embedding only", plain);
  print_row("embedding + verifier", verified);

  std::puts("\nsweep:     embedding only (precision/recall/false-hit)   embedding + verifier");
  for (int t = 50; t <= 95; t += 5) {
    const Score a = score(queries, t / 100.0, false), b = score(queries, t / 100.0, true);
    std::printf("  %.2f      %.3f / %.3f / %.3f                     %.3f / %.3f / %.3f\n", t / 100.0, a.precision(),
                a.recall(), a.false_hit_rate(), b.precision(), b.recall(), b.false_hit_rate());
  }
  if (errors) {
    std::puts("\nwith the verifier at the threshold: false hits (F) and missed positives (M)");
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      const Candidate* hit = served[i];
      const bool right = hit && right_hit(queries[i], *hit);
      if (hit && !right)
        std::printf("  F %-14s %.3f  %s | %s\n", pairs[i].kind.c_str(), hit->similarity, entries[hit->entry].c_str(),
                    pairs[i].b.c_str());
      else if (!hit && pairs[i].same) {
        const auto v = verifier.check(pairs[i].a, pairs[i].b);
        std::printf("  M %-14s %-12s %s | %s\n", pairs[i].kind.c_str(), v.same ? "(similarity)" : std::string(v.rule).c_str(),
                    pairs[i].a.c_str(), pairs[i].b.c_str());
      }
    }
  }

  bool ok = true;
  if (min_precision >= 0 && verified.precision() < min_precision) {
    std::printf("FAIL: precision %.3f is below %.3f\n", verified.precision(), min_precision);
    ok = false;
  }
  if (min_recall >= 0 && verified.recall() < min_recall) {
    std::printf("FAIL: recall %.3f is below %.3f\n", verified.recall(), min_recall);
    ok = false;
  }
  return ok ? 0 : 1;
}
