// The verifier's rules that compare what each prompt holds, word by word
// without aligning them (verifier_rules.hpp): language, numbers, negation,
// qualifiers, programming languages, names, antonyms.
#include <algorithm>
#include <array>
#include <cmath>

#include "verifier_rules.hpp"
#include "verifier_spelling.hpp"

namespace sluice::cache::rules {

namespace {

bool counts(const Token& t) { return !t.ignored; }

template <typename Range>
std::string joined(const Range& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ' ';
    out += item;
  }
  return out.empty() ? "none" : out;
}

std::string quantities_text(const Prompt& p) {
  std::string out;
  for (const Quantity& q : p.quantities()) {
    if (!out.empty()) out += ' ';
    char buf[40];
    std::snprintf(buf, sizeof buf, "%g", q.value);
    out += buf;
    out += q.unit;
  }
  return out.empty() ? "none" : out;
}

int negations(const Prompt& p) {
  int count = 0;
  bool neither = false;
  for (const Token& t : p.tokens()) {
    if (t.sentence_start) neither = false;
    if (!counts(t) || t.kind != words::Class::negator) continue;
    if (t.text == "nor" && neither) continue;  // "neither X nor Y" is one negation
    neither = neither || t.text == "neither";
    ++count;
  }
  return count;
}

// A small set of views, sorted: what each prompt holds of one class.
struct Bag {
  std::array<std::string_view, 32> items;
  std::size_t size = 0;
  void add(std::string_view item) {
    if (size < items.size()) items[size++] = item;
  }
  void sort() { std::sort(items.begin(), items.begin() + size); }
  bool contains(std::string_view item) const { return std::find(begin(), end(), item) != end(); }
  const std::string_view* begin() const { return items.data(); }
  const std::string_view* end() const { return items.data() + size; }
  bool operator==(const Bag& o) const { return std::equal(begin(), end(), o.begin(), o.end()); }
};

Bag qualifier_bag(const Prompt& p) {
  Bag bag;
  const auto& tokens = p.tokens();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    // The future: "Who will win?" is not "Who won?" nor "Who wins?"; "Will
    // you explain..." is a way to ask, not a tense.
    if (counts(t) && (t.text == "will" || t.text == "shall") &&
        !(i + 1 < tokens.size() && tokens[i + 1].text == "you"))
      bag.add("future");
    if (!counts(t) || t.kind != words::Class::qualifier) continue;
    std::string_view group = t.info->qualifier;
    if (i > 0 && tokens[i - 1].text == "at" && (group == "least" || group == "most"))
      group = group == "least" ? "at-least" : "at-most";
    bag.add(group);
  }
  bag.sort();
  return bag;
}

Bag language_bag(const Prompt& p) {
  Bag bag;
  for (const Token& t : p.tokens()) {
    if (!counts(t)) continue;
    if (!t.info) continue;
    const std::string_view language = !t.info->language.empty() || !(t.capitalised && !t.sentence_start)
                                          ? t.info->language
                                          : t.info->capitalised_language;
    if (!language.empty() && !bag.contains(language)) bag.add(language);
  }
  bag.sort();
  return bag;
}

bool is_name(const Token& t) {
  if (!counts(t) || t.number || t.kind != words::Class::content) return false;
  return t.all_capitals || (t.capitalised && !t.sentence_start);
}

// A name of `a` that `b` does not write (in any case, or with a typo).
const Token* missing_name(const Prompt& a, const Prompt& b) {
  for (const Token& name : a.tokens()) {
    if (!is_name(name)) continue;
    const bool found = b.find(name) >= 0 || std::any_of(b.tokens().begin(), b.tokens().end(), [&](const Token& t) {
      return name_typo(name, t);
    });
    if (!found) return &name;
  }
  return nullptr;
}

// The question words that ask for another kind of answer: a time, a
// place, a reason, a person. "What", "which" and "how" are left out: they
// trade places in paraphrases ("What is the way to..." / "How do I...").
int question_kinds(const Prompt& p) {
  int bits = 0;
  for (const Token& t : p.tokens()) {
    if (!counts(t)) continue;
    if (t.text == "when") bits |= 1;
    else if (t.text == "where") bits |= 2;
    else if (t.text == "why") bits |= 4;
    else if (t.text == "who" || t.text == "whom" || t.text == "whose") bits |= 8;
  }
  return bits;
}

std::string question_text(int bits) {
  static constexpr std::array<std::string_view, 4> kNames = {"when", "where", "why", "who"};
  std::string out;
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (!(bits & (1 << i))) continue;
    if (!out.empty()) out += ' ';
    out += kNames[i];
  }
  return out.empty() ? "none" : out;
}

// He or she: "a gift for him" / "a gift for her".
int gender(const Prompt& p) {
  static constexpr auto kMale = std::to_array<std::string_view>({"he", "him", "his", "himself"});
  static constexpr auto kFemale = std::to_array<std::string_view>({"she", "her", "hers", "herself"});
  int bits = 0;
  for (const Token& t : p.tokens()) {
    if (!counts(t)) continue;
    if (std::find(kMale.begin(), kMale.end(), t.text) != kMale.end()) bits |= 1;
    if (std::find(kFemale.begin(), kFemale.end(), t.text) != kFemale.end()) bits |= 2;
  }
  return bits;
}

bool opposed(const Token& x, const Token& y, const Lexicon& lexicon) {
  if (words::prefixed_opposite(x.text, y.text)) return true;
  if (!x.opposable || !y.opposable) return false;
  for (int i = 0; i < x.key_count; ++i)
    for (int j = 0; j < y.key_count; ++j)
      if (lexicon.antonyms(x.keys[i], y.keys[j])) return true;
  return false;
}

// The words of `a` that `b` does not have, at most 32.
std::size_t unshared(const Prompt& a, const Prompt& b, std::array<const Token*, 32>& out) {
  std::size_t n = 0;
  for (const Token& t : a.tokens()) {
    if (!counts(t) || t.number || n == out.size()) continue;
    if (b.find(t) < 0) out[n++] = &t;
  }
  return n;
}

}  // namespace

bool language(const Prompt& a, const Prompt& b, std::string& detail) {
  if (a.script() != Script::none && b.script() != Script::none && a.script() != b.script()) {
    detail = "the prompts are written in different scripts";
    return true;
  }
  if (!a.language().empty() && !b.language().empty() && a.language() != b.language()) {
    detail = std::string(a.language()) + " / " + std::string(b.language());
    return true;
  }
  return false;
}

bool numbers(const Prompt& a, const Prompt& b, std::string& detail) {
  const auto& x = a.quantities();
  const auto& y = b.quantities();
  const bool same = std::equal(x.begin(), x.end(), y.begin(), y.end(), [](const Quantity& p, const Quantity& q) {
    return p.unit == q.unit && std::abs(p.value - q.value) <= 1e-9 * std::max(1.0, std::abs(p.value));
  });
  if (!same) {
    detail = quantities_text(a) + " / " + quantities_text(b);
    return true;
  }
  if (a.units() != b.units()) {
    detail = "units " + joined(a.units()) + " / " + joined(b.units());
    return true;
  }
  return false;
}

bool negation(const Prompt& a, const Prompt& b, std::string& detail) {
  const int x = negations(a), y = negations(b);
  if (x % 2 == y % 2) return false;
  detail = std::to_string(x) + " / " + std::to_string(y) + " negations";
  return true;
}

bool question(const Prompt& a, const Prompt& b, std::string& detail) {
  const int x = question_kinds(a), y = question_kinds(b);
  if (x == y) return false;
  detail = question_text(x) + " / " + question_text(y);
  return true;
}

bool qualifiers(const Prompt& a, const Prompt& b, std::string& detail) {
  const Bag x = qualifier_bag(a), y = qualifier_bag(b);
  if (x == y) return false;
  detail = joined(x) + " / " + joined(y);
  return true;
}

bool programming_languages(const Prompt& a, const Prompt& b, std::string& detail) {
  const Bag x = language_bag(a), y = language_bag(b);
  const auto only_in = [](const Bag& p, const Bag& q) {
    return std::any_of(p.begin(), p.end(), [&](std::string_view l) { return !q.contains(l); });
  };
  // A language on one side only is the alignment's to judge ("Pyhton").
  if (!only_in(x, y) || !only_in(y, x)) return false;
  detail = joined(x) + " / " + joined(y);
  return true;
}

bool entities(const Prompt& a, const Prompt& b, std::string& detail) {
  if (const int x = gender(a), y = gender(b); (x == 1 && y == 2) || (x == 2 && y == 1)) {
    detail = "he / she";
    return true;
  }
  const Token* name = missing_name(a, b);
  if (!name) name = missing_name(b, a);
  if (!name) return false;
  detail = quoted(name->text) + " is named on one side only";
  return true;
}

bool antonyms(const Prompt& a, const Prompt& b, const Lexicon& lexicon, std::string& detail) {
  std::array<const Token*, 32> x{}, y{};
  const std::size_t n = unshared(a, b, x), m = unshared(b, a, y);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < m; ++j)
      if (opposed(*x[i], *y[j], lexicon)) {
        detail = std::string(x[i]->text) + " / " + std::string(y[j]->text);
        return true;
      }
  return false;
}

}  // namespace sluice::cache::rules
