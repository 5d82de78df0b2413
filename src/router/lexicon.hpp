// The scorer's vocabulary: cue words and word pairs, each in one group, and
// the tokenizer that reads them. Private to the router.
#pragma once

#include <cstdint>
#include <string_view>

namespace sluice::router {

enum class Group : std::uint8_t {
  none,
  proof,        // asks for a proof or derivation
  proof_term,   // names one (theorem, lemma): explaining a theorem is not proving it
  math,
  code_ask,     // asks for code: function, script, query, implement
  code_lang,    // names a programming language or tool
  design,
  concurrency,       // a hazard: races, deadlocks, memory ordering
  concurrency_term,  // threads, goroutines: mentioned, not necessarily hard
  analysis,
  explain,      // explanations, comparisons, drafting: a capable model's work
  simple,       // facts, rewording, formatting, greetings
  brief,        // a short answer asked for
  long_output,  // a long or thorough answer asked for
  steps,        // sequencing words
  constraint,
  foreign,      // function words of other languages
  kCount
};

struct Entry {
  Group group = Group::none;
  bool action = false;  // an action verb: distinct ones count the things asked
  bool opens = false;   // begins a longer phrase: only then is the next word looked up with it
};

// Lower-cased FNV-1a of a word, and of two consecutive words.
std::uint64_t word_hash(std::string_view lowered_word) noexcept;
inline std::uint64_t pair_hash(std::uint64_t first, std::uint64_t second) noexcept {
  return first * 0x9e3779b97f4a7c15ull ^ (second + 0x632be59bd9b4e019ull);
}

// The entry for a word or a pair (by hash); group none when not a cue.
Entry lookup(std::uint64_t hash) noexcept;

}  // namespace sluice::router
