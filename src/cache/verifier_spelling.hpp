// Telling a misspelt word from another word: the typo rules of the
// verifier's alignment and of its names rule.
#pragma once

#include <string_view>

#include "verifier_text.hpp"

namespace sluice::cache {

// Optimal-string-alignment distance (a transposition counts one), or
// `bound` + 1 as soon as it is certainly above `bound`.
int edit_distance(std::string_view a, std::string_view b, int bound) noexcept;

// Two different spellings of one word, as a typo makes them: five letters or
// more, the same first letter, no digits, one edit apart (two from nine
// letters on).
bool typo_of(std::string_view a, std::string_view b) noexcept;

// typo_of, unless both are dictionary words: "modem" / "model" are two
// words, "cetner" / "center" one word misspelt.
bool typo(const Token& a, const Token& b) noexcept;

// A misspelt name: six letters or more, a letter left out, added, or two
// swapped ("Pyhton"); never one letter replaced ("Jonas" / "Jones").
bool name_typo(const Token& a, const Token& b) noexcept;

}  // namespace sluice::cache
