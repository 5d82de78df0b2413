// The complexity scorer (complexity.hpp): the last user turn is split into
// instruction and material, the instruction's words are looked up in the
// lexicon, and the cues add up to a logit that a logistic turns into 0..1.
//
// The weights were set by hand on tests/data/router/dev.jsonl and checked
// once on holdout.jsonl (docs/benchmarks.md). Two rules shape them: the
// cues of ordinary work (explain, write code, compare) saturate, so only
// cues of hard work (proof, math, concurrency, design, analysis) or several
// demands at once reach the top tier; and the signs of an easy ask count
// for less when hard cues are present ("What is the 100th digit of ...? Justify.").
#include "sluice/router/complexity.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string_view>
#include <utility>

#include "lexicon.hpp"

namespace sluice::router {

namespace {

// Bounds on the work per request, whatever its size: the instruction is
// read for cues up to kTaskBytes; the last turn's shape up to kShapeBytes.
constexpr std::size_t kTaskBytes = 8 * 1024;
constexpr std::size_t kShapeBytes = 64 * 1024;
constexpr std::size_t kInstructionBytes = 700;  // a longer paragraph is material unless it is all there is
constexpr std::size_t kListBytes = 1500;

// --- Weights (logit units) -------------------------------------------------
constexpr double kBias = -1.6;
constexpr double kProof = 2.6, kProofTerm = 1.0, kMath = 1.1, kMathSymbols = 0.4, kNumbers = 0.5;
constexpr double kConcurrency = 1.3, kConcurrencyTerm = 0.5, kDesign = 0.9, kAnalysis = 0.9;
constexpr double kExplain = 1.0, kCodeAsk = 0.8, kCodeLang = 0.4, kCodeMaterial = 0.4, kOrdinaryCap = 1.4;
constexpr double kSimple = 1.2, kBrief = 1.0;
constexpr double kLongOutput = 0.8, kLongWords = 1.0, kVeryLongWords = 1.4, kMaxTokens = 0.5, kHugeMaxTokens = 0.8;
constexpr double kConstraint = 0.45, kSteps = 0.3, kActionsBase = 0.6, kActionsEach = 0.35, kActionsCap = 2.0;
constexpr double kLength = 0.5, kQuestions = 0.3, kTools = 0.9, kManyTools = 0.4, kDeep = 0.3, kLanguage = 0.5;
constexpr double kPasted = 0.2;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
bool is_alnum(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool word_byte(unsigned char c) { return is_alnum(c) || c >= 0x80; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// --- Segmentation ------------------------------------------------------------

// Code: punctuation programs are made of, or a line that starts like one.
bool is_code_line(std::string_view line) {
  const std::string_view t = trim(line);
  if (t.empty()) return false;
  if (line.size() > t.size() && (line[0] == ' ' || line[0] == '\t') && line.size() - t.size() >= 2) return true;
  const char last = t.back();
  if (last == ';' || last == '{' || last == '}' || last == ')' || last == ':' || last == ',') {
    if (t.find('(') != std::string_view::npos || t.find('=') != std::string_view::npos || last != ':') return true;
  }
  static constexpr std::string_view kStarts[] = {"def ",    "class ",  "import ", "from ",   "return ",  "const ",
                                                 "let ",    "var ",    "function ", "#include", "for ",  "if ",
                                                 "while ",  "print",   "SELECT ", "CREATE ", "public ",  "private ",
                                                 "module.", "async ",  "fn ",     "struct ", "package ", "}"};
  return std::any_of(std::begin(kStarts), std::end(kStarts), [&](std::string_view s) { return t.starts_with(s); });
}

// Logs, transcripts, tables: a timestamp, "Name: ...", or cells.
bool is_data_line(std::string_view line) {
  const std::string_view t = trim(line);
  if (t.size() < 4) return false;
  if (is_digit(t[0]) && is_digit(t[1]) && (t.find(':') != std::string_view::npos || t.find('-') == 4)) return true;
  if (t.front() == '|') return true;
  const std::size_t colon = t.find(": ");
  if (colon != std::string_view::npos && colon > 0 && colon <= 20 && t[0] >= 'A' && t[0] <= 'Z') {
    const std::string_view who = t.substr(0, colon);
    return std::all_of(who.begin(), who.end(), [](char c) { return is_alnum(static_cast<unsigned char>(c)) || c == ' '; }) &&
           std::count(who.begin(), who.end(), ' ') <= 2;
  }
  return false;
}

bool is_list_line(std::string_view line) {
  const std::string_view t = trim(line);
  if (t.size() < 3) return false;
  if ((t[0] == '-' || t[0] == '*') && t[1] == ' ') return true;
  std::size_t i = 0;
  while (i < t.size() && i < 3 && is_digit(t[i])) ++i;
  return i > 0 && i + 1 < t.size() && (t[i] == '.' || t[i] == ')') && t[i + 1] == ' ';
}

struct Paragraph {
  std::string_view text;
  bool fenced = false;      // inside ``` fences
  bool structured = false;  // mostly code or data lines
  bool list = false;        // mostly list items
  int code_lines = 0;
  int list_items = 0;
};

// Words that open a request: "Explain ...", "Can you ...", "Please ...".
bool opens_request(std::string_view p) {
  std::size_t end = 0;
  while (end < p.size() && word_byte(static_cast<unsigned char>(p[end]))) ++end;
  if (end == 0) return false;
  char word[24];
  const std::size_t n = std::min<std::size_t>(end, sizeof word);
  for (std::size_t i = 0; i < n; ++i) word[i] = lower(p[i]);
  const std::uint64_t h = word_hash({word, n});
  const Entry e = lookup(h);
  if (e.action || e.group == Group::explain || e.group == Group::proof) return true;
  static constexpr std::string_view kOpeners[] = {"can",  "could", "please", "how",  "what", "why", "is",
                                                  "are",  "does",  "do",     "i",    "we",   "our", "my",
                                                  "help", "tell",  "make",   "turn", "add",  "now", "given"};
  const std::string_view w(word, n);
  return std::find(std::begin(kOpeners), std::end(kOpeners), w) != std::end(kOpeners);
}

// Splits `turn` into paragraphs (blank lines; ``` fences), up to kShapeBytes.
template <typename F>
void for_each_paragraph(std::string_view turn, F&& f) {
  turn = turn.substr(0, kShapeBytes);
  Paragraph p;
  std::size_t start = 0, lines = 0, data = 0;
  bool in_fence = false, open = false;
  const auto flush = [&](std::size_t end) {
    if (open) {
      p.text = trim(turn.substr(start, end - start));
      p.structured = p.fenced || (lines >= 2 && (p.code_lines + static_cast<int>(data)) * 2 >= static_cast<int>(lines)) ||
                     (lines == 1 && p.code_lines == 1 && p.text.size() < 120 && p.text.find(' ') == std::string_view::npos);
      p.list = !p.structured && p.list_items >= 2 && p.list_items * 2 >= static_cast<int>(lines);
      if (!p.text.empty()) f(p);
    }
    p = Paragraph{};
    lines = data = 0;
    open = false;
  };
  std::size_t pos = 0;
  while (pos <= turn.size()) {
    std::size_t eol = turn.find('\n', pos);
    if (eol == std::string_view::npos) eol = turn.size();
    const std::string_view line = turn.substr(pos, eol - pos);
    const std::string_view t = trim(line);
    if (t.starts_with("```")) {
      flush(pos);
      in_fence = !in_fence;
      if (in_fence) {
        start = eol + 1 <= turn.size() ? eol + 1 : turn.size();
        open = true;
        p.fenced = true;
      }
    } else if (t.empty() && !in_fence) {
      flush(pos);
    } else {
      if (!open) {
        start = pos;
        open = true;
        p.fenced = in_fence;
      }
      ++lines;
      if (is_code_line(line)) ++p.code_lines;
      else if (is_data_line(line)) ++data;
      if (is_list_line(line)) ++p.list_items;
    }
    if (eol == turn.size()) break;
    pos = eol + 1;
  }
  flush(turn.size());
}

// --- Reading the instruction ----------------------------------------------------

struct Counts {
  std::array<int, static_cast<std::size_t>(Group::kCount)> hits{};
  std::array<std::uint64_t, 16> actions{};
  int distinct_actions = 0;
  int words = 0;
  int questions = 0;
  int math_symbols = 0;
  int numbers = 0;  // numeric tokens
  int non_ascii = 0;
  int bytes = 0;
  long long words_requested = 0;  // "a 2000-word essay", "in 50 words"
};

void note_action(Counts& c, std::uint64_t h) {
  for (int i = 0; i < c.distinct_actions; ++i)
    if (c.actions[static_cast<std::size_t>(i)] == h) return;
  if (c.distinct_actions < static_cast<int>(c.actions.size())) c.actions[static_cast<std::size_t>(c.distinct_actions++)] = h;
}

void count_entry(Counts& c, Entry e, std::uint64_t h) {
  if (e.group != Group::none) ++c.hits[static_cast<std::size_t>(e.group)];
  if (e.action) note_action(c, h);
}

// Reads the words of `text` into `c`: each word, and each run of two and
// three words, looked up in the lexicon.
void read_words(std::string_view text, Counts& c) {
  static const std::uint64_t kWord = word_hash("word"), kWords = word_hash("words");
  std::uint64_t prev1 = 0, prev2 = 0;
  long long last_number = -1;
  c.bytes += static_cast<int>(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto ch = static_cast<unsigned char>(text[i]);
    if (!word_byte(ch)) {
      if (ch == '?') ++c.questions;
      else if (ch == '^' || ch == '=' || ch == '\\') ++c.math_symbols;
      else if (ch == '.' || ch == '!' || ch == ';' || ch == ':') prev1 = prev2 = 0;  // phrases stop at sentence ends
      ++i;
      continue;
    }
    std::uint64_t h = 1469598103934665603ull;
    long long number = is_digit(text[i]) ? 0 : -1;
    std::size_t start = i;
    bool word_suffix = false;
    while (i < text.size()) {
      const auto b = static_cast<unsigned char>(text[i]);
      const bool next_alnum = i + 1 < text.size() && word_byte(static_cast<unsigned char>(text[i + 1]));
      const bool joiner = (b == '-' || b == '\'' || b == '.' || (b == ',' && number >= 0)) && next_alnum && i > start;
      const bool plus = b == '+' && i > start;
      if (!word_byte(b) && !joiner && !plus) break;
      if (b >= 0x80) ++c.non_ascii;
      if (number >= 0) {
        if (is_digit(text[i])) number = std::min<long long>(number * 10 + (text[i] - '0'), 1'000'000);
        else if (b != ',') {
          if (b == '-' && text.substr(i, 5) == "-word") word_suffix = true;
          if (!word_suffix && !is_digit(text[i])) number = -1;
        }
      }
      h = (h ^ static_cast<unsigned char>(lower(text[i]))) * 1099511628211ull;
      ++i;
    }
    h |= 1;
    ++c.words;
    if (number >= 0) ++c.numbers;
    if (word_suffix && number > 0) c.words_requested = std::max(c.words_requested, number);
    if ((h == kWord || h == kWords) && last_number > 0) c.words_requested = std::max(c.words_requested, last_number);
    last_number = word_suffix ? -1 : number;
    const Entry word = lookup(h);
    count_entry(c, word, h);
    // A pair only after a word that opens one, a triple only after such a pair.
    std::uint64_t pair = 0;
    if (prev1) {
      pair = pair_hash(prev1, h);
      const Entry two = lookup(pair);
      count_entry(c, two, pair);
      if (!two.opens) pair = 0;
    }
    if (prev2) {
      const std::uint64_t three = pair_hash(prev2, h);
      count_entry(c, lookup(three), three);
    }
    prev2 = pair;
    prev1 = word.opens ? h : 0;
  }
}

int hits(const Counts& c, Group g) { return c.hits[static_cast<std::size_t>(g)]; }

// 1 for one hit, more for more, saturating at three.
double dim(int n) { return n <= 0 ? 0 : 1 + 0.35 * (std::min(n, 3) - 1); }

struct Tally {
  double z = kBias;
  Assessment a;
  void add(Cue cue, double logit) {
    if (logit == 0) return;
    z += logit;
    a.cues |= cue;
    for (std::size_t i = 0; i < a.part_count; ++i)
      if (a.parts[i].cue == cue) {
        a.parts[i].logit += logit;
        return;
      }
    if (a.part_count < a.parts.size()) a.parts[a.part_count++] = {cue, logit};
  }
};

constexpr std::pair<Cue, std::string_view> kCueNames[] = {
    {kCueProof, "proof"},         {kCueMath, "math"},          {kCueCode, "code"},
    {kCueDesign, "design"},       {kCueConcurrency, "concurrency"}, {kCueAnalysis, "analysis"},
    {kCueMultiStep, "multi-step"}, {kCueConstraints, "constraints"}, {kCueLongOutput, "long-output"},
    {kCueTools, "tools"},         {kCueConversation, "conversation"}, {kCueLanguage, "language"},
    {kCueExplain, "explain"},     {kCueSimple, "simple"},      {kCueBrief, "brief"},
    {kCuePasted, "pasted"},       {kCueLongTask, "long-task"},
};

}  // namespace

Assessment assess(const LlmRequest& req) {
  // The conversation: the last user turn is the task; system prompts are
  // instructions to the model, not the task, and are not scored.
  std::string_view turn;
  int user_turns = 0;
  for (const Message& m : req.messages) {
    if (m.role == "user") {
      ++user_turns;
      turn = m.text;
    }
  }
  if (turn.empty() && !req.messages.empty()) turn = req.messages.back().text;
  if (turn.empty() && !req.inputs.empty()) turn = req.inputs.front();

  // Instruction and material. Instruction: short paragraphs that ask
  // something, or lists of demands, among the first two and last two.
  struct Seen {
    Paragraph p;
    std::size_t index;
  };
  std::array<Seen, 4> edge{};  // first two, last two
  std::size_t count = 0, total = 0, code_paragraphs = 0, code_lines = 0;
  for_each_paragraph(turn, [&](const Paragraph& p) {
    if (count < 2) edge[count] = {p, count};
    else {
      edge[2] = edge[3];
      edge[3] = {p, count};
    }
    ++count;
    total += p.text.size();
    if (p.structured && p.code_lines >= 1) ++code_paragraphs;
    code_lines += static_cast<std::size_t>(p.code_lines);
  });
  if (count == 3) {  // edge[2] holds the third; edge[3] is empty
    edge[3] = edge[2];
    edge[2] = {};
  }
  Counts c;
  std::size_t task_bytes = 0;
  int list_items = 0;
  const auto take = [&](const Paragraph& p) {
    const std::string_view text = p.text.substr(0, kTaskBytes - std::min(task_bytes, kTaskBytes));
    read_words(text, c);
    task_bytes += text.size();
    if (p.list) list_items += p.list_items;
  };
  // Paragraphs that ask come first; a short paragraph at an edge that asks
  // nothing counts only when no paragraph asks (a pasted text's first
  // paragraph is not the task when the last one says what to do with it).
  std::array<bool, 4> asks{}, candidate{};
  bool someone_asks = false;
  for (std::size_t i = 0; i < edge.size(); ++i) {
    const Seen& s = edge[i];
    if (s.p.text.empty() || s.p.structured) continue;
    bool duplicate = false;
    for (std::size_t j = 0; j < i; ++j) duplicate = duplicate || (!edge[j].p.text.empty() && edge[j].index == s.index);
    if (duplicate) continue;
    const bool fits = s.p.text.size() <= kInstructionBytes;
    asks[i] = (fits && (s.p.text.find('?') != std::string_view::npos || s.p.text.back() == ':' || opens_request(s.p.text))) ||
              (s.p.list && s.p.text.size() <= kListBytes) || count == 1;
    candidate[i] = asks[i] || (s.p.text.size() <= 300 && (s.index == 0 || s.index + 1 == count));
    someone_asks = someone_asks || asks[i];
  }
  bool any = false;
  for (std::size_t i = 0; i < edge.size(); ++i) {
    if (someone_asks ? !asks[i] : !candidate[i]) continue;
    take(edge[i].p);
    any = true;
  }
  if (!any) {  // nothing reads as an instruction: read the edges, bounded
    for (const Seen& s : edge)
      if (!s.p.text.empty() && !s.p.structured && task_bytes < kTaskBytes) take(s.p);
  }
  const std::size_t material_bytes = total > task_bytes ? total - task_bytes : 0;

  // --- The tally
  Tally t;
  const int proof = hits(c, Group::proof), math = hits(c, Group::math), conc = hits(c, Group::concurrency);
  const int design = hits(c, Group::design), analysis = hits(c, Group::analysis);
  t.add(kCueProof, proof ? kProof * dim(proof) : kProofTerm * dim(hits(c, Group::proof_term)));
  // Three numbers or more in the instruction: a quantity to work out.
  t.add(kCueMath, kMath * dim(math) + kMathSymbols * std::min(c.math_symbols, 3) + kNumbers * (c.numbers >= 3));
  t.add(kCueConcurrency, conc ? kConcurrency * dim(conc) : kConcurrencyTerm * dim(hits(c, Group::concurrency_term)));
  t.add(kCueDesign, kDesign * dim(design));
  t.add(kCueAnalysis, kAnalysis * dim(analysis));
  const double hard = t.z - kBias;

  const bool code_material = code_paragraphs > 0 || code_lines >= 3;
  const double code = kCodeAsk * (hits(c, Group::code_ask) > 0) + kCodeLang * (hits(c, Group::code_lang) > 0) +
                      kCodeMaterial * code_material;
  const double explain = kExplain * (hits(c, Group::explain) > 0);
  const double ordinary = std::min(kOrdinaryCap, code + explain);
  if (ordinary > 0) {  // shared in proportion, so the reason names the larger
    t.add(kCueCode, ordinary * code / (code + explain));
    t.add(kCueExplain, ordinary * explain / (code + explain));
  }

  // Easy asks weigh less next to the cues of real work: in "what are the
  // differences between ...", "what are" is a question word, not an easy task.
  t.add(kCueSimple, -kSimple * dim(hits(c, Group::simple)) / (1 + std::max(0.0, hard) + ordinary));
  const bool brief = hits(c, Group::brief) > 0 || (c.words_requested > 0 && c.words_requested <= 60);
  t.add(kCueBrief, brief ? -kBrief : 0);

  double long_output = hits(c, Group::long_output) > 0 ? kLongOutput : 0;
  if (c.words_requested >= 1500) long_output += kVeryLongWords;
  else if (c.words_requested >= 800) long_output += kLongWords;
  if (req.max_tokens && *req.max_tokens >= 8000) long_output += kHugeMaxTokens;
  else if (req.max_tokens && *req.max_tokens >= 2000) long_output += kMaxTokens;
  t.add(kCueLongOutput, long_output);

  const int demands = c.distinct_actions + (list_items >= 3 ? list_items - 2 : 0);
  if (demands >= 3) t.add(kCueMultiStep, std::min(kActionsCap, kActionsBase + kActionsEach * (demands - 3)));
  t.add(kCueMultiStep, kSteps * std::min(hits(c, Group::steps), 2));
  if (c.questions >= 2) t.add(kCueMultiStep, kQuestions);
  t.add(kCueConstraints, kConstraint * std::min(hits(c, Group::constraint), 4));

  if (c.words > 0) {
    const double length = kLength * std::clamp(std::log2(c.words / 12.0), -1.5, 2.5);
    t.add(length > 0 ? kCueLongTask : kCueBrief, length);
  }
  if (req.tools > 0) t.add(kCueTools, kTools + (req.tools >= 5 ? kManyTools : 0));
  if (user_turns >= 3) t.add(kCueConversation, kDeep);
  if (hits(c, Group::foreign) >= 3 || (c.bytes > 0 && c.non_ascii * 20 > c.bytes)) t.add(kCueLanguage, kLanguage);
  if (material_bytes > 500) t.add(kCuePasted, kPasted);

  Assessment& a = t.a;
  a.score = 1.0 / (1.0 + std::exp(-t.z));
  a.task_bytes = task_bytes;
  a.material_bytes = material_bytes;
  return a;
}

std::string_view cue_name(Cue cue) {
  for (const auto& [c, name] : kCueNames)
    if (c == cue) return name;
  return "cue";
}

std::string reason(const Assessment& a, bool toward_easy) {
  std::array<Assessment::Part, 20> parts = a.parts;
  const auto end = parts.begin() + static_cast<std::ptrdiff_t>(a.part_count);
  std::sort(parts.begin(), end, [&](const auto& x, const auto& y) {
    return toward_easy ? x.logit < y.logit : x.logit > y.logit;
  });
  std::string out;
  int taken = 0;
  for (auto it = parts.begin(); it != end && taken < 2; ++it, ++taken) {
    if (toward_easy ? it->logit >= 0 : it->logit <= 0) break;
    if (!out.empty()) out += '+';
    out += cue_name(it->cue);
  }
  return out.empty() ? "plain" : out;
}

}  // namespace sluice::router
