// The verifier's closed word classes: what a word does in a prompt when its
// meaning is not looked up in WordNet. Function words are ignored by the
// alignment; negators, qualifiers, direction words and units each have a
// rule of their own; programming languages are entities of their own.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <string_view>

namespace sluice::cache::words {

enum class Class : std::uint8_t {
  content,    // compared by the alignment
  function,   // articles, pronouns, auxiliaries, question words: carry no topic
  frame,      // how a request is asked ("please", "explain", "tell me"): ignored
  negator,    // "not", "never", "without"...: the negation rule counts them
  qualifier,  // "only", "all", "first", "minimum"...: the qualifier rule compares them
  direction,  // "to", "from", "than", "above"...: give the next content word a role
};

// What the lists say of one word; null for a word in none of them. Looked
// up once per token (one hash), then read by every rule.
struct Info {
  Class kind = Class::content;
  // A word of a greeting or thanks: a sentence of nothing else ("Hello
  // there.", "Thanks in advance!") is left out of every rule.
  bool greeting = false;
  // A written number ("two" -> 2, "dozen" -> 12); a multiplier ("hundred",
  // "million") multiplies what came before.
  bool number = false, multiplier = false;
  double value = 0;
  // A qualifier's canonical group ("every" and "each" are "all"; "biggest"
  // is "max").
  std::string_view qualifier;
  // The canonical unit ("kilometres" -> "km"): `unit` wherever the word
  // stands, `unit_after_number` only right after a number ("5 m", "10
  // seconds", "in" never).
  std::string_view unit, unit_after_number;
  // The canonical programming language ("js" -> "javascript");
  // `capitalised_language` only when written capitalised mid-sentence ("Go",
  // "C", "R", "Swift", "Dart").
  std::string_view language, capitalised_language;
};
const Info* info(std::string_view word) noexcept;

Class class_of(std::string_view word) noexcept;

// Built-in antonym pairs: the fallback when WordNet is absent, and pairs of
// function words WordNet does not link ("above"/"below", "more"/"less").
// The lexicon holds them beside WordNet's.
std::span<const std::pair<std::string_view, std::string_view>> builtin_antonyms() noexcept;

// Negative and reversing prefixes: "unsafe" against "safe", "disable"
// against "enable".
bool prefixed_opposite(std::string_view a, std::string_view b) noexcept;

}  // namespace sluice::cache::words
