// A prompt as the verifier's rules read it: lower-cased tokens with their
// word class, match keys (the word, its WordNet base forms, a suffix stem),
// capitalisation and sentence position; the numbers with their units; the
// script and the likely language. One pass over the text; a Prompt is
// reused between calls, so parsing allocates nothing once warm.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "verifier_lexicon.hpp"
#include "verifier_words.hpp"

namespace sluice::cache {

struct Token {
  std::string_view text;  // lower-case (a view of Prompt::lowered_ or of a literal)
  std::uint64_t keys[4] = {};  // keys[0] is the word itself; then base forms and the stem
  std::uint8_t key_count = 0;
  words::Class kind = words::Class::content;
  const words::Info* info = nullptr;  // what the word lists say of it
  bool capitalised = false;     // written with an upper-case first letter
  bool all_capitals = false;    // "NASA", "HTTP"
  bool sentence_start = false;
  bool ignored = false;         // part of a greeting sentence, or a number's unit
  bool number = false;          // part of a number (digits or a number word)
  bool has_digit = false;
  bool in_dictionary = false;   // WordNet knows a base form of it
  bool opposable = false;       // one of its keys has an antonym
  bool has_senses = false;      // one of its keys is a WordNet lemma: it can have synonyms
  std::uint8_t languages = 0;   // bit l: a function word of kLanguageWords[l]

  bool same_word(const Token& other) const noexcept;  // any key in common
};

struct Quantity {
  double value = 0;
  std::string_view unit;  // canonical ("km", "%"), "" when the number has none
  bool operator<(const Quantity& o) const noexcept { return value != o.value ? value < o.value : unit < o.unit; }
};

enum class Script : std::uint8_t { none, latin, greek, cyrillic, armenian, hebrew, arabic, indic, thai, hangul, kana, han, other };

class Prompt {
 public:
  // Parses `text`; the same text as the last call is not parsed again (a
  // lookup verifies up to `candidates` entries against one prompt).
  void parse(std::string_view text, const Lexicon& lexicon);

  const std::vector<Token>& tokens() const noexcept { return tokens_; }
  const std::vector<Quantity>& quantities() const noexcept { return quantities_; }  // sorted
  const std::vector<std::string_view>& units() const noexcept { return units_; }    // sorted, unique
  Script script() const noexcept { return script_; }
  std::string_view language() const noexcept { return language_; }  // "en", "es"...; "" when unsure
  // A token (not ignored) sharing a key with `t`: the first at or after
  // `from` if any, else the first; -1 when none. One hash probe a key, then
  // a binary search among that key's repeats.
  int find(const Token& t, int from = 0) const noexcept;

 private:
  void tokenize(std::string_view text);
  void push(std::string_view word, std::size_t start, bool sentence_start);
  void classify(const Lexicon& lexicon);
  void drop_greetings();
  void read_numbers();
  void detect_script(std::string_view text);
  void detect_language();
  void index_keys();

  std::string source_, normal_, lowered_;
  std::uint64_t parsed_with_ = 0;  // the id() of the lexicon of the last parse
  std::vector<Token> tokens_;
  std::vector<Quantity> quantities_;
  std::vector<std::string_view> units_;
  // Every key of every token kept: an open-addressing table (a power of two,
  // at most two thirds full) whose slots name a run of `positions_`, the tokens
  // with that key in order.
  struct KeySlot {
    std::uint64_t key = 0;
    std::uint32_t begin = 0, count = 0;  // count 0: an empty slot
  };
  const KeySlot* slot(std::uint64_t key) const noexcept;
  std::vector<KeySlot> slots_;
  std::vector<int> positions_;
  Script script_ = Script::none;
  std::string_view language_;
};

}  // namespace sluice::cache
