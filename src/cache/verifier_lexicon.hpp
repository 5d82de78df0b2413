// What the verifier keeps of WordNet (Debian's wordnet-base): the lemmas
// with their most frequent senses (synonyms are lemmas sharing one), the
// irregular forms (morphy's exception lists) and the antonym pointers. Read
// once at start; the data files themselves are not kept. Words are held as
// 64-bit hashes: a lookup never allocates.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sluice::cache {

// FNV-1a of the bytes, finalised: the verifier's word key.
std::uint64_t word_key(std::string_view word) noexcept;

class Lexicon {
 public:
  // Never fails: without the files (or with a malformed one) the lexicon
  // holds the built-in antonyms only and warning() says so.
  static Lexicon load(const std::filesystem::path& wordnet_dir);

  bool has_wordnet() const noexcept { return !senses_.empty(); }
  const std::string& warning() const noexcept { return warning_; }
  double load_millis() const noexcept { return load_millis_; }
  // Distinct for every lexicon loaded in this process: what a parse cached
  // per thread is keyed by (an address may be reused).
  std::uint64_t id() const noexcept { return id_; }
  std::size_t lemma_count() const noexcept { return senses_.size(); }
  std::size_t antonym_count() const noexcept { return antonyms_.size(); }
  void add_antonyms(std::uint64_t a, std::uint64_t b);

  // Writes the keys of `word`'s base forms known to WordNet ("wrote" ->
  // write, "largest" -> large, "works" -> work) into `out`, at most `max`;
  // returns how many. `word` is lower-case ASCII; none without WordNet.
  int lemmas(std::string_view word, std::uint64_t* out, int max) const noexcept;
  // Two lemma keys share one of their most frequent senses (an adjective's
  // satellite sense counts as its head: "quick" and "fast").
  bool synonyms(std::uint64_t a, std::uint64_t b) const noexcept;
  // WordNet's antonym relation between two lemma keys, or a built-in pair.
  bool antonyms(std::uint64_t a, std::uint64_t b) const noexcept;
  // The key has an antonym at all: what lets the antonym rule skip most
  // pairs of words without a lookup.
  bool has_antonym(std::uint64_t key) const noexcept { return opposable_.contains(key); }
  // The key is a WordNet lemma: it has senses, so it can have synonyms.
  bool is_lemma(std::uint64_t key) const noexcept { return senses_.contains(key); }

  // How many senses of each lemma take part in synonymy: WordNet lists a
  // word's senses most frequent first, and its rare senses make loose
  // synonyms ("hot" is a sense of "fast").
  static constexpr int kTopSenses = 3;

 private:
  struct Senses {
    std::uint32_t begin = 0;
    std::uint32_t count = 0;
  };
  std::unordered_map<std::uint64_t, Senses> senses_;  // lemma key -> its synsets in synsets_
  std::vector<std::uint32_t> synsets_;                 // (part of speech << 24) | data file offset
  std::unordered_multimap<std::uint64_t, std::uint64_t> exceptions_;  // irregular form -> base form
  std::unordered_set<std::uint64_t> antonyms_;         // pair_key of each antonym pair
  std::unordered_set<std::uint64_t> opposable_;        // every key of a pair in antonyms_
  std::string warning_;
  double load_millis_ = 0;
  std::uint64_t id_ = 0;

  friend class LexiconLoader;
};

}  // namespace sluice::cache
