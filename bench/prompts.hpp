// Made-up ~1 KB prompts for the cache benchmarks: a few common words among
// 5,000 invented ones, so prompts share words as real ones do without being
// near duplicates of each other. Deterministic for a seeded generator.
#pragma once

#include <random>
#include <string>
#include <utility>
#include <vector>

namespace sluice::bench {

inline const std::vector<std::string> kWords = {
    "customer", "invoice", "shipping", "order", "refund", "account", "password", "delivery", "warehouse", "product",
    "discount", "payment", "subscription", "error", "server", "database", "report", "quarter", "revenue", "policy",
    "employee", "schedule", "meeting", "contract", "supplier", "inventory", "budget", "forecast", "region", "market",
    "analysis", "summary", "detail", "request", "response", "timeout", "network", "storage", "backup", "release",
    "feature", "question", "answer", "document", "section", "table", "column", "value", "average", "total"};

// A vocabulary of 5,000 made-up words besides the common ones: prompts that
// share words as real ones do, without being near-duplicates of each other.
inline const std::vector<std::string>& vocabulary() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> out = kWords;
    std::mt19937 rng(7);
    const char* syllables[] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "zen", "dra", "pel", "qua", "bri", "tor"};
    std::uniform_int_distribution<int> syllable(0, 13), length(2, 4);
    while (out.size() < 5'050) {
      std::string w;
      for (int i = length(rng); i > 0; --i) w += syllables[syllable(rng)];
      out.push_back(w);
    }
    return out;
  }();
  return words;
}

inline std::string prompt(std::mt19937& rng, std::size_t bytes) {
  std::string text = "Please explain ";
  const auto& words = vocabulary();
  std::uniform_int_distribution<std::size_t> common(0, kWords.size() - 1), any(0, words.size() - 1);
  std::bernoulli_distribution is_common(0.3);
  while (text.size() < bytes) {
    text += is_common(rng) ? words[common(rng)] : words[any(rng)];
    text += ' ';
  }
  text.resize(bytes);
  return text;
}

// A stored prompt lightly reworded: two letters of a word near its end
// swapped (a typo) and thanks added. Near, not exact, and the same question:
// the verifier accepts it, so a lookup of it runs every rule.
inline std::string near(std::string text) {
  const std::size_t word = text.rfind(' ', text.size() - 20) + 1;
  std::swap(text[word + 1], text[word + 2]);
  text += " Thanks!";
  return text;
}

}  // namespace sluice::bench
