// The verifier's closed word classes: what a word does in a prompt when its
// meaning is not looked up in WordNet. Function words are ignored by the
// alignment; negators, qualifiers, direction words and units each have a
// rule of their own; programming languages are entities of their own.
#pragma once

#include <cstdint>
#include <optional>
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

Class class_of(std::string_view word) noexcept;

// A qualifier's canonical group ("every" and "each" are "all"; "biggest"
// is "max"), or "" for a word that is none.
std::string_view qualifier_group(std::string_view word) noexcept;

// Words a greeting or thanks is made of: a sentence of nothing else
// ("Hello there.", "Thanks in advance!") is left out of every rule.
bool greeting_word(std::string_view word) noexcept;

// The value of a written number word ("two" -> 2, "dozen" -> 12); a
// multiplier ("hundred", "million") sets `multiplier`.
struct NumberWord {
  double value = 0;
  bool multiplier = false;
};
std::optional<NumberWord> number_word(std::string_view word) noexcept;

// The canonical unit a word names ("km", "kilometres" -> "km"), or "".
// `after_number`: words that are units only right after a number ("in",
// "second", "m") count then; otherwise only unambiguous unit words do.
std::string_view unit_of(std::string_view word, bool after_number) noexcept;

// The canonical programming language a word names ("js" -> "javascript"),
// or "". `capitalised`: "Go", "C", "R", "Swift" count only when written so
// in the middle of a sentence.
std::string_view programming_language(std::string_view word, bool capitalised) noexcept;

// Built-in antonym pairs: the fallback when WordNet is absent, and pairs of
// function words WordNet does not link ("above"/"below", "more"/"less").
bool builtin_antonyms(std::string_view a, std::string_view b) noexcept;

// Negative and reversing prefixes: "unsafe" against "safe", "disable"
// against "enable".
bool prefixed_opposite(std::string_view a, std::string_view b) noexcept;

}  // namespace sluice::cache::words
