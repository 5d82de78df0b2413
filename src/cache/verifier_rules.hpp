// The verifier's rules, cheapest first (verifier.cpp runs them in this
// order). Each reads two parsed prompts and returns true when they cannot
// ask the same question, with what it saw in `detail`. Every rule is
// symmetric: check(a, b) and check(b, a) agree.
#pragma once

#include <string>
#include <string_view>

#include "verifier_lexicon.hpp"
#include "verifier_text.hpp"

namespace sluice::cache::rules {

// A word in quotes, for a verdict's detail.
inline std::string quoted(std::string_view word) {
  std::string out;
  out.reserve(word.size() + 2);
  out += '\'';
  out += word;
  out += '\'';
  return out;
}

// Another script, or another language of the Latin script: "What is the
// capital of Spain?" / "¿Cuál es la capital de España?".
bool language(const Prompt& a, const Prompt& b, std::string& detail);

// Numbers (digits or words: "2" = "two") and their units: "2 eggs" / "3
// eggs", "5 km" / "5 miles", "in 1990" / "in 2020", "15%" / "15 percent" pass.
bool numbers(const Prompt& a, const Prompt& b, std::string& detail);

// The parity of negations ("not", "n't", "never", "without", "no", "fails
// to"...): "Why does X work?" / "Why doesn't X work?".
bool negation(const Prompt& a, const Prompt& b, std::string& detail);

// The kind of answer asked for: "when", "where", "why", "who" ("When was
// it built?" / "Where was it built?").
bool question(const Prompt& a, const Prompt& b, std::string& detail);

// Qualifiers and quantifiers by group: "all" / "some", "first" / "last",
// "at least" / "at most", "only" / none, "minimum" / "maximum"; and the
// future ("will"): "Who will win?" / "Who won?".
bool qualifiers(const Prompt& a, const Prompt& b, std::string& detail);

// Each prompt names a programming language the other does not: "in Python"
// / "in Rust".
bool programming_languages(const Prompt& a, const Prompt& b, std::string& detail);

// A name (capitalised mid-sentence, or an acronym) of one prompt that the
// other lacks: "capital of Austria" / "capital of Australia"; or "he" for
// "she": "a gift for him" / "a gift for her".
bool entities(const Prompt& a, const Prompt& b, std::string& detail);

// A word of one prompt that is the antonym of a word of the other (WordNet,
// the built-in pairs, or a negating prefix): "cheapest" / "most expensive",
// "above" / "below", "safe" / "unsafe".
bool antonyms(const Prompt& a, const Prompt& b, const Lexicon& lexicon, std::string& detail);

// Every content word of each prompt matched in the other (the same word or
// base form, a typo, a WordNet synonym, two words written as one); then the
// matched words keep their roles: "from X to Y" / "from Y to X", "X than Y"
// / "Y than X", "X beat Y" / "Y beat X" reject, "X or Y" / "Y or X" passes.
// Returns the rule that rejects ("alignment": a word without a match;
// "order": a matched word changed role), or "" when the prompts align.
std::string_view align(const Prompt& a, const Prompt& b, const Lexicon& lexicon, std::string& detail);

}  // namespace sluice::cache::rules
