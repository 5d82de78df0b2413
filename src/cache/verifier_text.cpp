// Tokenizing a prompt for the verifier (verifier_text.hpp): words, the
// contractions that hide a negation ("don't", "cant"), numbers written in
// digits or words with the unit after them, greetings left out, the script
// and the language.
#include "verifier_text.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <unordered_map>

namespace sluice::cache {

namespace {

bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool word_byte(char c) { return alpha(c) || digit(c) || static_cast<unsigned char>(c) >= 0x80; }
bool sentence_end(char c) { return c == '.' || c == '?' || c == '!' || c == ';' || c == ':' || c == '\n'; }

// Negated auxiliaries written without the apostrophe, and what they stand for.
constexpr auto kBareNegations = std::to_array<std::pair<std::string_view, std::string_view>>({
    {"dont", "do"}, {"doesnt", "does"}, {"didnt", "did"}, {"isnt", "is"}, {"arent", "are"}, {"wasnt", "was"},
    {"werent", "were"}, {"cant", "can"}, {"cannot", "can"}, {"wont", "will"}, {"shouldnt", "should"},
    {"couldnt", "could"}, {"wouldnt", "would"}, {"havent", "have"}, {"hasnt", "has"}, {"hadnt", "had"},
    {"aint", "is"}, {"mustnt", "must"}});
static_assert(std::all_of(kBareNegations.begin(), kBareNegations.end(), [](const auto& n) { return n.first.ends_with('t'); }),
              "push() skips the list for a word not ending in 't'");

// The most frequent function words of the languages a Latin-script prompt
// is most often written in: enough to tell them apart on a sentence.
constexpr auto kLanguageWords = std::to_array<std::pair<std::string_view, std::string_view>>({
    {"en", " the is are what how of and to do does i you my can with for this that which "},
    {"es", " el la los las es qué que cómo como de y en por para un una del se mi cuál cuál "},
    {"fr", " le la les est que comment de et un une des du pour je vous ce qui quel quelle "},
    {"de", " der die das ist wie was und ich ein eine zu mit für nicht den dem ein "},
    {"it", " il lo la è che come di e un una per del della sono gli qual quale "},
    {"pt", " o os as é que como de e em um uma para do da não qual "},
    {"nl", " de het een is wat hoe en van ik je niet op voor welke "}});

// The number a token of digits stands for ("1,000", "3.5").
double digits_value(std::string_view text) {
  char buf[48];
  std::size_t n = 0;
  for (char c : text)
    if (c != ',' && n + 1 < sizeof buf) buf[n++] = c;
  buf[n] = '\0';
  return std::strtod(buf, nullptr);
}

Script script_of(char32_t cp) {
  if (cp < 0x80) return alpha(static_cast<char>(cp)) ? Script::latin : Script::none;
  if (cp >= 0xC0 && cp <= 0x24F) return cp == 0xD7 || cp == 0xF7 ? Script::none : Script::latin;
  if (cp >= 0x370 && cp <= 0x3FF) return Script::greek;
  if (cp >= 0x400 && cp <= 0x52F) return Script::cyrillic;
  if (cp >= 0x530 && cp <= 0x58F) return Script::armenian;
  if (cp >= 0x590 && cp <= 0x5FF) return Script::hebrew;
  if (cp >= 0x600 && cp <= 0x6FF) return Script::arabic;
  if (cp >= 0x900 && cp <= 0xDFF) return Script::indic;
  if (cp >= 0xE00 && cp <= 0xE7F) return Script::thai;
  if ((cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xAC00 && cp <= 0xD7AF)) return Script::hangul;
  if (cp >= 0x3040 && cp <= 0x30FF) return Script::kana;
  if ((cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF)) return Script::han;
  if (cp >= 0x2000 && cp <= 0x2BFF) return Script::none;  // punctuation, symbols, arrows
  return cp >= 0x3000 && cp <= 0x303F ? Script::none : Script::other;
}

// A suffix-stripping stem for words WordNet does not know ("pandas" and
// "panda" aside, what remains is tense and number).
std::string_view stem(std::string_view word, char* buf) {
  auto cut = [&](std::size_t n, std::string_view ending) {
    const std::size_t keep = word.size() - n;
    word.copy(buf, keep);
    ending.copy(buf + keep, ending.size());
    return std::string_view(buf, keep + ending.size());
  };
  if (word.size() > 4 && word.ends_with("ies")) return cut(3, "y");
  if (word.size() > 5 && word.ends_with("ing")) return cut(3, "");
  if (word.size() > 4 && word.ends_with("ed")) return cut(2, "");
  if (word.size() > 3 && word.ends_with("s") && !word.ends_with("ss") && !word.ends_with("us") &&
      !word.ends_with("is"))
    return cut(word.ends_with("es") && word.size() > 4 ? 2 : 1, "");
  return word;
}

// The words after which "one" stands for a noun already named.
bool one_as_pronoun_after(std::string_view word) {
  static constexpr auto kBefore = std::to_array<std::string_view>(
      {"a", "an", "the", "this", "that", "which", "each", "every", "any", "no", "another", "new", "other", "only",
       "same", "right", "wrong", "last", "first", "next", "better", "best", "old", "little", "big"});
  return std::find(kBefore.begin(), kBefore.end(), word) != kBefore.end();
}

// Each function word with the languages it belongs to (bit l:
// kLanguageWords[l]), built once.
std::uint8_t language_bits(std::string_view word) {
  static const auto kMembers = [] {
    std::unordered_map<std::string_view, std::uint8_t> members;
    for (std::size_t l = 0; l < kLanguageWords.size(); ++l) {
      std::string_view list = kLanguageWords[l].second;
      for (std::size_t end = 0; !list.empty(); list.remove_prefix(std::min(list.size(), end + 1))) {
        end = std::min(list.find(' '), list.size());
        if (end > 0) members[list.substr(0, end)] |= static_cast<std::uint8_t>(1u << l);
      }
    }
    return members;
  }();
  const auto it = kMembers.find(word);
  return it == kMembers.end() ? 0 : it->second;
}

// What a word's text alone tells the rules: everything classify() sets but
// the context ("one" as a pronoun, capitals, position). Working it out
// takes a dozen hash lookups (the word lists, morphy's detachments, the
// stem, the antonyms); a prompt's words repeat, and so do a cache's
// prompts', so each thread keeps the facts of the words it saw last.
struct WordFacts {
  std::uint64_t lexicon = 0;  // Lexicon::id(); 0: an empty memo slot
  std::uint64_t key = 0;      // word_key of the word
  const words::Info* info = nullptr;
  std::uint64_t keys[3] = {};  // base forms and the stem, after the word's own key
  std::uint8_t extra_keys = 0;
  words::Class kind = words::Class::content;
  bool in_dictionary = false, opposable = false, has_senses = false, number = false;
  std::uint8_t languages = 0;
};
static_assert(sizeof(WordFacts) == 56);

WordFacts learn(std::string_view text, std::uint64_t key, const Lexicon& lexicon) {
  WordFacts f;
  f.lexicon = lexicon.id();
  f.key = key;
  f.info = words::info(text);
  f.kind = f.info ? f.info->kind : words::Class::content;
  f.languages = language_bits(text);
  if (text.size() > 64) return f;
  std::uint64_t keys[4] = {key};
  int count = 1;
  std::uint64_t lemmas[2];
  const int found = lexicon.lemmas(text, lemmas, 2);
  for (int k = 0; k < found; ++k)
    if (lemmas[k] != key) keys[count++] = lemmas[k];
  f.in_dictionary = found > 0;
  char buf[80];
  const std::string_view stemmed = stem(text, buf);
  if (stemmed.size() != text.size()) {
    const std::uint64_t stem_key = word_key(stemmed);
    if (std::find(keys, keys + count, stem_key) == keys + count) keys[count++] = stem_key;
    if (f.kind == words::Class::content && words::class_of(stemmed) == words::Class::negator)
      f.kind = words::Class::negator;  // "fails to", "lacks"
  }
  for (int k = 0; k < count; ++k) {
    f.opposable = f.opposable || lexicon.has_antonym(keys[k]);
    f.has_senses = f.has_senses || lexicon.is_lemma(keys[k]);
  }
  std::copy(keys + 1, keys + count, f.keys);
  f.extra_keys = static_cast<std::uint8_t>(count - 1);
  f.number = digit(text[0]) && std::all_of(text.begin(), text.end(), [](char c) {
               return digit(c) || c == '.' || c == ',';
             });
  if (!f.number && f.info && f.info->number) f.number = f.kind == words::Class::content;
  return f;
}

// The memo: direct-mapped by the word's key, 8,192 words (448 KiB) a
// thread, allocated on a thread's first parse.
const WordFacts& facts(std::string_view text, std::uint64_t key, const Lexicon& lexicon) {
  static constexpr std::size_t kWords = 8192;
  thread_local std::vector<WordFacts> memo;
  if (memo.empty()) memo.resize(kWords);
  WordFacts& f = memo[key & (kWords - 1)];
  if (f.lexicon != lexicon.id() || f.key != key) f = learn(text, key, lexicon);
  return f;
}

}  // namespace

bool Token::same_word(const Token& other) const noexcept {
  for (int i = 0; i < key_count; ++i)
    for (int j = 0; j < other.key_count; ++j)
      if (keys[i] == other.keys[j]) return true;
  return false;
}

void Prompt::parse(std::string_view text, const Lexicon& lexicon) {
  if (parsed_with_ == lexicon.id() && text == source_) return;
  parsed_with_ = lexicon.id();
  source_.assign(text);
  tokens_.clear();
  quantities_.clear();
  units_.clear();
  // Curly apostrophes become straight ones, so "don’t" splits as "don't".
  normal_.clear();
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t lead = text.find('\xE2', i);
    normal_.append(text.substr(i, lead - i));
    if (lead == std::string_view::npos) break;
    const bool curly = lead + 2 < text.size() && text[lead + 1] == '\x80' &&
                       (text[lead + 2] == '\x98' || text[lead + 2] == '\x99');
    normal_ += curly ? '\'' : '\xE2';
    i = lead + (curly ? 3 : 1);
  }
  lowered_.resize(normal_.size());
  std::transform(normal_.begin(), normal_.end(), lowered_.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  tokenize(normal_);
  classify(lexicon);
  drop_greetings();
  read_numbers();
  detect_script(normal_);
  detect_language();
  index_keys();
}

void Prompt::index_keys() {
  std::size_t total = 0;
  for (const Token& t : tokens_) total += t.ignored ? 0 : t.key_count;
  std::size_t size = 16;  // at most two thirds full
  while (2 * size < 3 * total) size *= 2;
  slots_.assign(size, KeySlot{});
  positions_.resize(total);
  // Two passes: count each key's tokens, then lay the runs out and fill
  // them in token order (so each run is sorted). Linear; nothing to sort.
  const std::size_t mask = size - 1;
  auto place = [&](std::uint64_t key) -> KeySlot& {
    for (std::size_t i = key & mask;; i = (i + 1) & mask)
      if (slots_[i].count == 0 || slots_[i].key == key) return slots_[i];
  };
  for (const Token& t : tokens_)
    if (!t.ignored)
      for (int k = 0; k < t.key_count; ++k) {
        KeySlot& s = place(t.keys[k]);
        s.key = t.keys[k];
        ++s.count;
      }
  std::uint32_t next = 0;
  for (KeySlot& s : slots_) {
    s.begin = next;
    next += s.count;
    s.count = 0;  // refilled below
  }
  for (std::size_t i = 0; i < tokens_.size(); ++i)
    if (!tokens_[i].ignored)
      for (int k = 0; k < tokens_[i].key_count; ++k) {
        KeySlot& s = place(tokens_[i].keys[k]);
        positions_[s.begin + s.count++] = static_cast<int>(i);
      }
}

const Prompt::KeySlot* Prompt::slot(std::uint64_t key) const noexcept {
  if (slots_.empty()) return nullptr;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = key & mask;; i = (i + 1) & mask) {
    if (slots_[i].count == 0) return nullptr;
    if (slots_[i].key == key) return &slots_[i];
  }
}

int Prompt::find(const Token& t, int from) const noexcept {
  int after = -1, first = -1;
  for (int k = 0; k < t.key_count; ++k) {
    const KeySlot* s = slot(t.keys[k]);
    if (!s) continue;
    const int* run = positions_.data() + s->begin;
    const int* end = run + s->count;
    if (first < 0 || run[0] < first) first = run[0];
    // The first repeat at or after `from`, by binary search: stepping
    // through a word's repeats made a prompt of one word said thousands of
    // times quadratic.
    if (const int* it = std::lower_bound(run, end, from); it != end && (after < 0 || *it < after)) after = *it;
  }
  return after >= 0 ? after : first;
}

void Prompt::tokenize(std::string_view s) {
  bool starts = true;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\xE2' && s.compare(i, 3, "\xE2\x82\xAC") == 0) {  // the euro sign
      push(std::string_view(lowered_).substr(i, 3), i, starts);
      i += 3;
      starts = false;
    } else if (word_byte(c)) {
      const std::size_t start = i;
      while (i < s.size()) {
        const char n = i + 1 < s.size() ? s[i + 1] : '\0';
        if (word_byte(s[i])) ++i;
        else if (s[i] == '\'' && alpha(n)) ++i;
        else if (s[i] == '.' && i > start && word_byte(s[i - 1]) && word_byte(n) && !sentence_end(n)) ++i;
        else if (s[i] == ',' && digit(s[i - 1]) && i + 3 < s.size() + 1 && digit(n) && digit(s[i + 2]) &&
                 i + 3 < s.size() && digit(s[i + 3]) && (i + 4 >= s.size() || !digit(s[i + 4])))
          ++i;
        else break;
      }
      if (i - start <= 8) while (i < s.size() && s[i] == '+') ++i;  // c++, g++
      if (i - start == 1 && i < s.size() && s[i] == '#') ++i;          // c#, f#
      push(std::string_view(lowered_).substr(start, i - start), start, starts);
      starts = false;
    } else {
      if (c == '%' || c == '$') push(std::string_view(lowered_).substr(i, 1), i, starts);
      if (sentence_end(c)) starts = true;
      else if (c == '%' || c == '$') starts = false;
      ++i;
    }
  }
}

void Prompt::push(std::string_view word, std::size_t start, bool sentence_start) {
  auto add = [&](std::string_view text, std::size_t at, bool first) {
    Token& t = tokens_.emplace_back();
    t.text = text;
    t.sentence_start = first;
    t.capitalised = at < normal_.size() && normal_[at] >= 'A' && normal_[at] <= 'Z';
    int upper = 0, lower = 0;
    bool has_digit = false;
    for (std::size_t k = at; k < at + text.size() && k < normal_.size(); ++k) {
      upper += normal_[k] >= 'A' && normal_[k] <= 'Z';
      lower += normal_[k] >= 'a' && normal_[k] <= 'z';
      has_digit |= digit(normal_[k]);
    }
    t.has_digit = has_digit;
    t.all_capitals = upper >= 2 && lower == 0;
  };
  if (const std::size_t apostrophe = word.find('\''); apostrophe != std::string_view::npos) {
    std::string_view base = word.substr(0, apostrophe);
    if (word.substr(apostrophe) == "'t" && base.ends_with('n')) {
      base.remove_suffix(1);
      if (base == "ca") base = "can";
      else if (base == "wo") base = "will";
      else if (base == "sha") base = "shall";
      else if (base == "ai") base = "is";
      if (!base.empty()) add(base, start, sentence_start);
      add("not", start + apostrophe, false);
    } else if (!base.empty()) {
      add(base, start, sentence_start);  // 's, 're, 've, 'll, 'd, 'm: nothing a rule reads
    }
    return;
  }
  for (const auto& [bare, base] : kBareNegations) {
    if (word.back() != 't') break;  // every one ends in 't'
    if (word != bare) continue;
    add(base, start, sentence_start);
    add("not", start + base.size(), false);
    return;
  }
  // "10km", "5k", "3x": the number and its unit. "mp3", "python3" stay words.
  std::size_t d = 0;
  while (d < word.size() && (digit(word[d]) || word[d] == '.' || word[d] == ',')) ++d;
  if (d > 0 && d < word.size() && alpha(word[d]) && digit(word[0])) {
    add(word.substr(0, d), start, sentence_start);
    add(word.substr(d), start + d, false);
    return;
  }
  add(word, start, sentence_start);
}

void Prompt::classify(const Lexicon& lexicon) {
  for (std::size_t i = 0; i < tokens_.size(); ++i) {
    Token& t = tokens_[i];
    const std::uint64_t key = word_key(t.text);
    const WordFacts& f = facts(t.text, key, lexicon);
    t.info = f.info;
    t.kind = f.kind;
    t.keys[0] = key;
    std::copy(f.keys, f.keys + f.extra_keys, t.keys + 1);
    t.key_count = static_cast<std::uint8_t>(1 + f.extra_keys);
    t.in_dictionary = f.in_dictionary;
    t.opposable = f.opposable;
    t.has_senses = f.has_senses;
    t.number = f.number;
    t.languages = f.languages;
    // "a new one", "which one", "this one.": the pronoun, not the number.
    if (t.text == "one" && (i + 1 == tokens_.size() || tokens_[i + 1].sentence_start ||
                            (i > 0 && one_as_pronoun_after(tokens_[i - 1].text))))
      t.number = false, t.kind = words::Class::function;
  }
}

void Prompt::drop_greetings() {
  std::size_t begin = 0;
  for (std::size_t i = 1; i <= tokens_.size(); ++i) {
    if (i < tokens_.size() && !tokens_[i].sentence_start) continue;
    const bool greeting = std::all_of(tokens_.begin() + begin, tokens_.begin() + i, [](const Token& t) {
      return (t.info && t.info->greeting) || t.kind == words::Class::frame;
    });
    if (greeting)
      for (std::size_t k = begin; k < i; ++k) tokens_[k].ignored = true;
    begin = i;
  }
}

void Prompt::read_numbers() {
  for (const Token& t : tokens_) {
    if (t.info && !t.info->unit.empty() && !t.ignored) units_.push_back(t.info->unit);
  }
  std::size_t i = 0;
  while (i < tokens_.size()) {
    if (!tokens_[i].number || tokens_[i].ignored) {
      ++i;
      continue;
    }
    const std::size_t first = i;
    double total = 0, current = 0;
    bool previous_digits = false;
    for (; i < tokens_.size(); ++i) {
      Token& t = tokens_[i];
      const words::Info* word = t.info && t.info->number ? t.info : nullptr;
      const bool digits = t.number && !word;
      if (digits) {
        if (i > first) break;  // "5 10": two numbers
        current = digits_value(t.text);
      } else if (word && word->multiplier) {
        total += (current == 0 ? 1 : current) * word->value;
        current = 0;
      } else if (word && t.number && !previous_digits) {
        current += word->value;
      } else if (t.text == "and" && i + 1 < tokens_.size() && tokens_[i + 1].number && !previous_digits) {
        continue;
      } else {
        break;
      }
      t.number = true;
      previous_digits = digits;
    }
    Quantity q{total + current, {}};
    if (i < tokens_.size()) {
      if (const words::Info* next = tokens_[i].info)
        q.unit = next->unit.empty() ? next->unit_after_number : next->unit;
      if (!q.unit.empty()) tokens_[i].ignored = true;
    }
    if (q.unit.empty() && first > 0 && tokens_[first - 1].info) q.unit = tokens_[first - 1].info->unit;  // "$5"
    quantities_.push_back(q);
  }
  std::sort(quantities_.begin(), quantities_.end());
  std::sort(units_.begin(), units_.end());
  units_.erase(std::unique(units_.begin(), units_.end()), units_.end());
}

void Prompt::detect_script(std::string_view s) {
  std::array<int, static_cast<int>(Script::other) + 1> counts{};
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {  // most prompts are mostly ASCII
      counts[static_cast<int>(Script::latin)] += alpha(static_cast<char>(c));
      ++i;
      continue;
    }
    const int extra = c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;  // continuation bytes of a multi-byte character
    char32_t cp = c & (0x3F >> extra);
    for (int k = 1; k <= extra && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    ++counts[static_cast<int>(script_of(cp))];
    i += 1 + extra;
  }
  counts[0] = 0;
  const auto top = std::max_element(counts.begin(), counts.end());
  script_ = *top == 0 ? Script::none : static_cast<Script>(top - counts.begin());
}

void Prompt::detect_language() {
  language_ = {};
  if (script_ != Script::latin) return;
  std::array<int, kLanguageWords.size()> hits{};
  for (const Token& t : tokens_)
    for (std::size_t l = 0; l < hits.size(); ++l) hits[l] += (t.languages >> l) & 1;
  const auto best = std::max_element(hits.begin(), hits.end());
  int runner_up = 0;
  for (std::size_t l = 0; l < hits.size(); ++l)
    if (static_cast<long>(l) != best - hits.begin()) runner_up = std::max(runner_up, hits[l]);
  if (*best >= 2 && *best > runner_up) language_ = kLanguageWords[static_cast<std::size_t>(best - hits.begin())].first;
}

}  // namespace sluice::cache
