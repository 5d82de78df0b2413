// Loading WordNet's data, index and exception files into the Lexicon, and
// morphy's detachment rules (wndb(5), morphy(7WN)). The data files are read
// whole and parsed in one pass each: antonym pointers ("!") and the
// satellite-to-head links of adjectives ("&"); the index files give each
// lemma's senses, most frequent first.
#include "verifier_lexicon.hpp"

#include "verifier_words.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <fstream>
#include <optional>

namespace sluice::cache {

namespace {

constexpr std::array<std::string_view, 4> kParts = {"noun", "verb", "adj", "adv"};

std::uint64_t pair_key(std::uint64_t a, std::uint64_t b) noexcept {
  if (a > b) std::swap(a, b);
  std::uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull + (a << 6) + (a >> 2));
  h ^= h >> 31;
  return h * 0xbf58476d1ce4e5b9ull;
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  std::string text(static_cast<std::size_t>(in.tellg()), '\0');
  in.seekg(0);
  if (!in.read(text.data(), static_cast<std::streamsize>(text.size()))) return std::nullopt;
  return text;
}

// Splits the next space-separated field off `rest`.
std::string_view field(std::string_view& rest) {
  const std::size_t start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) return rest = {}, std::string_view{};
  rest.remove_prefix(start);
  const std::size_t end = rest.find(' ');
  const std::string_view out = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  return out;
}

std::uint32_t number(std::string_view text, int base) {
  std::uint32_t n = 0;
  for (char c : text) {
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0 || digit >= base) return n;
    n = n * static_cast<std::uint32_t>(base) + static_cast<std::uint32_t>(digit);
  }
  return n;
}

// A data-file word as a lemma key: lower-case, without the adjective
// marker "(a)" / "(p)" / "(ip)"; multi-word lemmas ("ice_cream") give 0.
std::uint64_t lemma_key(std::string_view word) {
  if (const std::size_t paren = word.find('('); paren != std::string_view::npos) word = word.substr(0, paren);
  if (word.empty() || word.size() > 63 || word.find('_') != std::string_view::npos) return 0;
  char buf[64];
  for (std::size_t i = 0; i < word.size(); ++i) buf[i] = word[i] >= 'A' && word[i] <= 'Z' ? word[i] + 32 : word[i];
  return word_key(std::string_view(buf, word.size()));
}

// One data-file line: its words and its pointers.
struct SynsetLine {
  std::array<std::string_view, 64> words{};
  std::size_t word_count = 0;
  char type = 0;
  std::string_view pointers;  // from the pointer count on
};

std::optional<SynsetLine> parse_synset(std::string_view line) {
  SynsetLine s;
  field(line);  // offset
  field(line);  // lex_filenum
  const std::string_view type = field(line);
  if (type.size() != 1) return std::nullopt;
  s.type = type[0];
  const std::uint32_t count = number(field(line), 16);
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::string_view word = field(line);
    field(line);  // lex_id
    if (i < s.words.size()) s.words[s.word_count++] = word;
  }
  s.pointers = line;
  return s;
}

// Calls f(line, its offset) for every line of `file`, the licence header
// (lines starting with a space) left out; f returns nothing.
template <typename F>
void for_each_line(std::string_view file, F f) {
  for (std::size_t pos = 0; pos < file.size();) {
    std::size_t end = file.find('\n', pos);
    if (end == std::string_view::npos) end = file.size();
    const std::string_view line = file.substr(pos, end - pos);
    if (!line.empty() && line[0] != ' ') f(line, pos);
    pos = end + 1;
  }
}

std::string_view line_at(std::string_view file, std::size_t offset) {
  if (offset >= file.size()) return {};
  const std::size_t end = file.find('\n', offset);
  return file.substr(offset, end == std::string_view::npos ? std::string_view::npos : end - offset);
}

}  // namespace

std::uint64_t word_key(std::string_view word) noexcept {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : word) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  return h ^ (h >> 31);
}

class LexiconLoader {
 public:
  explicit LexiconLoader(Lexicon& lexicon) : lex_(lexicon) {}

  // False (with the lexicon left empty) when a file is missing.
  bool load(const std::filesystem::path& dir) {
    std::array<std::string, 4> data;
    for (std::size_t p = 0; p < kParts.size(); ++p) {
      auto text = read_file(dir / ("data." + std::string(kParts[p])));
      if (!text) return missing(dir / ("data." + std::string(kParts[p])));
      data[p] = std::move(*text);
    }
    for (std::size_t p = 0; p < kParts.size(); ++p) scan_data(data, p);
    for (std::size_t p = 0; p < kParts.size(); ++p) {
      const auto path = dir / ("index." + std::string(kParts[p]));
      auto text = read_file(path);
      if (!text) return missing(path);
      read_index(*text, static_cast<std::uint32_t>(p));
      if (auto exc = read_file(dir / (std::string(kParts[p]) + ".exc"))) read_exceptions(*exc);
    }
    flatten();
    if (lex_.senses_.empty()) return missing(dir / "index.noun");
    return true;
  }

 private:
  bool missing(const std::filesystem::path& path) {
    lex_.senses_.clear();
    lex_.synsets_.clear();
    lex_.exceptions_.clear();
    lex_.antonyms_.clear();
    lex_.opposable_.clear();
    lex_.warning_ = "WordNet is not readable at " + path.string() +
                    " (Debian package wordnet-base): the verifier matches no synonyms and knows only its "
                    "built-in antonyms";
    return false;
  }

  static int part_of(char pos) { return pos == 'n' ? 0 : pos == 'v' ? 1 : pos == 'a' || pos == 's' ? 2 : 3; }

  // Antonym pointers, and the head each adjective satellite hangs from.
  void scan_data(const std::array<std::string, 4>& data, std::size_t part) {
    for_each_line(data[part], [&](std::string_view line, std::size_t at) {
      const auto offset = static_cast<std::uint32_t>(at);
      const bool has_antonym = line.find(" ! ") != std::string_view::npos;
      const bool satellite = part == 2 && line.find(" s ") != std::string_view::npos;
      if (!has_antonym && !satellite) return;
      const auto synset = parse_synset(line);
      if (!synset) return;
      std::string_view rest = synset->pointers;
      const std::uint32_t count = number(field(rest), 10);
      for (std::uint32_t i = 0; i < count; ++i) {
        const std::string_view symbol = field(rest), target = field(rest), target_pos = field(rest),
                               ends = field(rest);
        if (target_pos.empty() || ends.size() != 4) break;
        const int target_part = part_of(target_pos[0]);
        if (symbol == "&" && synset->type == 's') heads_[(2u << 24) | offset] = (2u << 24) | number(target, 10);
        if (symbol != "!") continue;
        const std::uint32_t source_word = number(ends.substr(0, 2), 16), target_word = number(ends.substr(2), 16);
        const auto other = parse_synset(line_at(data[target_part], number(target, 10)));
        if (!other || source_word == 0 || source_word > synset->word_count || target_word == 0 ||
            target_word > other->word_count)
          continue;
        const std::uint64_t a = lemma_key(synset->words[source_word - 1]);
        const std::uint64_t b = lemma_key(other->words[target_word - 1]);
        if (a && b) lex_.add_antonyms(a, b);
      }
    });
  }

  // "lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset..."
  void read_index(std::string_view file, std::uint32_t part) {
    for_each_line(file, [&](std::string_view line, std::size_t) {
      const std::uint64_t key = lemma_key(field(line));
      field(line);  // pos
      const std::uint32_t synsets = number(field(line), 10), pointers = number(field(line), 10);
      for (std::uint32_t i = 0; i < pointers; ++i) field(line);
      field(line);  // sense_cnt
      field(line);  // tagsense_cnt
      for (std::uint32_t i = 0; key && i < synsets && i < Lexicon::kTopSenses; ++i) {
        const std::uint32_t id = (part << 24) | number(field(line), 10);
        const auto head = heads_.find(id);
        senses_.push_back({key, head == heads_.end() ? id : head->second});
      }
    });
  }

  // One flat array of synsets, each lemma a range of it.
  void flatten() {
    std::stable_sort(senses_.begin(), senses_.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    lex_.senses_.reserve(senses_.size() / 2);
    lex_.synsets_.reserve(senses_.size());
    for (std::size_t i = 0; i < senses_.size(); ++i) {
      if (i == 0 || senses_[i].first != senses_[i - 1].first)
        lex_.senses_[senses_[i].first] = {static_cast<std::uint32_t>(lex_.synsets_.size()), 0};
      lex_.synsets_.push_back(senses_[i].second);
      ++lex_.senses_[senses_[i].first].count;
    }
    senses_ = {};
  }

  void read_exceptions(std::string_view file) {
    for_each_line(file, [&](std::string_view line, std::size_t) {
      const std::uint64_t form = lemma_key(field(line));
      for (std::string_view base = field(line); form && !base.empty(); base = field(line))
        if (const std::uint64_t key = lemma_key(base)) lex_.exceptions_.emplace(form, key);
    });
  }

  Lexicon& lex_;
  std::unordered_map<std::uint32_t, std::uint32_t> heads_;
  std::vector<std::pair<std::uint64_t, std::uint32_t>> senses_;  // (lemma, synset), senses in index order
};

Lexicon Lexicon::load(const std::filesystem::path& wordnet_dir) {
  const auto start = std::chrono::steady_clock::now();
  static std::atomic<std::uint64_t> loaded{0};
  Lexicon lexicon;
  lexicon.id_ = ++loaded;
  LexiconLoader(lexicon).load(wordnet_dir);
  for (const auto& [a, b] : words::builtin_antonyms()) lexicon.add_antonyms(word_key(a), word_key(b));
  lexicon.load_millis_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return lexicon;
}

int Lexicon::lemmas(std::string_view word, std::uint64_t* out, int max) const noexcept {
  if (!has_wordnet() || word.size() > 60 || max <= 0) return 0;
  int n = 0;
  auto add = [&](std::uint64_t key) {
    for (int i = 0; i < n; ++i)
      if (out[i] == key) return;
    if (n < max) out[n++] = key;
  };
  const std::uint64_t whole = word_key(word);
  if (senses_.contains(whole)) add(whole);
  for (auto [it, last] = exceptions_.equal_range(whole); it != last; ++it) add(it->second);
  // morphy's detachment rules, all parts of speech at once.
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 17> kRules = {{
      {"s", ""}, {"ses", "s"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"}, {"men", "man"},
      {"ies", "y"}, {"es", "e"}, {"es", ""}, {"ed", "e"}, {"ed", ""}, {"ing", "e"}, {"ing", ""},
      {"er", ""}, {"est", ""}, {"est", "e"}}};
  char buf[72];
  for (const auto& [suffix, ending] : kRules) {
    if (word.size() <= suffix.size() + 1 || !word.ends_with(suffix)) continue;
    const std::size_t stem = word.size() - suffix.size();
    word.copy(buf, stem);
    ending.copy(buf + stem, ending.size());
    const std::uint64_t key = word_key(std::string_view(buf, stem + ending.size()));
    if (senses_.contains(key)) add(key);
  }
  return n;
}

bool Lexicon::synonyms(std::uint64_t a, std::uint64_t b) const noexcept {
  const auto x = senses_.find(a), y = senses_.find(b);
  if (x == senses_.end() || y == senses_.end()) return false;
  for (std::uint32_t i = 0; i < x->second.count; ++i)
    for (std::uint32_t j = 0; j < y->second.count; ++j)
      if (synsets_[x->second.begin + i] == synsets_[y->second.begin + j]) return true;
  return false;
}

void Lexicon::add_antonyms(std::uint64_t a, std::uint64_t b) {
  antonyms_.insert(pair_key(a, b));
  opposable_.insert(a);
  opposable_.insert(b);
}

bool Lexicon::antonyms(std::uint64_t a, std::uint64_t b) const noexcept { return antonyms_.contains(pair_key(a, b)); }

}  // namespace sluice::cache
