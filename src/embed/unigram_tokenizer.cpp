// The unigram tokenizer (unigram_tokenizer.hpp). The Viterbi below keeps the
// reference's iteration order on purpose: for each end position it visits
// the candidate pieces by start position ascending, treats a best score of
// exactly 0 as "none yet" and lets a later candidate with an equal score
// win. Changing any of these changes ids on real text (pieces with a score
// of 0 exist: the reserved ones and a few like ":"), so the golden fixture
// would catch it.
#include "unigram_tokenizer.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace sluice::embed {

namespace {

constexpr char32_t kSpace = U' ';
constexpr char32_t kSeparator = U'\u2581';  // SentencePiece's word boundary, "▁"
constexpr std::int32_t kUnknownId = 0;

// Code points of UTF-8 text; an invalid byte becomes U+FFFD.
void decode_utf8(std::string_view text, std::vector<std::int32_t>& out) {
  out.clear();
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {
      out.push_back(0xFFFD);
      ++p;
      --left;
      continue;
    }
    out.push_back(cp);
    p += n;
    left -= n;
  }
}

void encode_utf8(const std::vector<std::int32_t>& cps, std::string& out) {
  out.clear();
  utf8proc_uint8_t buf[4];
  for (auto cp : cps) {
    const auto n = utf8proc_encode_char(cp, buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
  }
}

std::uint64_t edge_key(std::int32_t node, char32_t c) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(node)) << 32) | c;
}

}  // namespace

void nfkc_code_points(std::string_view text, std::vector<std::int32_t>& out) {
  // utf8proc wants valid UTF-8: replace what is not, then decompose (with
  // canonical ordering) and compose, as utf8proc_NFKC does, into `out`.
  thread_local std::vector<std::int32_t> decoded;
  thread_local std::string valid;
  decode_utf8(text, decoded);
  encode_utf8(decoded, valid);
  constexpr auto options =
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  out.resize(std::max<std::size_t>(decoded.size(), 16));
  for (;;) {
    const auto n = utf8proc_decompose(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
                                      static_cast<utf8proc_ssize_t>(valid.size()), out.data(),
                                      static_cast<utf8proc_ssize_t>(out.size()), options);
    if (n < 0) {  // cannot happen on valid UTF-8; keep the decoded text rather than fail
      out = decoded;
      return;
    }
    if (static_cast<std::size_t>(n) > out.size()) {
      out.resize(static_cast<std::size_t>(n));
      continue;
    }
    const auto m = utf8proc_normalize_utf32(out.data(), n, options);
    out.resize(m < 0 ? static_cast<std::size_t>(n) : static_cast<std::size_t>(m));
    return;
  }
}

Result<UnigramTokenizer> UnigramTokenizer::load(const std::filesystem::path& vocab_json, int reserved) {
  std::ifstream in(vocab_json, std::ios::binary);
  if (!in) return make_error(errc::internal, vocab_json.string() + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = parse(text.str(), reserved);
  if (!parsed) return make_error(errc::internal, vocab_json.string() + ": " + parsed.error().message);
  return parsed;
}

Result<UnigramTokenizer> UnigramTokenizer::parse(std::string_view text, int reserved) {
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_array()) return make_error(errc::internal, "not a JSON array");
  if (json.size() <= static_cast<std::size_t>(reserved) || json.size() > (1u << 24))
    return make_error(errc::internal, "a vocabulary of " + std::to_string(json.size()) + " pieces");
  UnigramTokenizer t;
  t.nodes_.emplace_back();
  t.pieces_.reserve(json.size());
  std::vector<std::int32_t> cps;
  for (std::size_t id = 0; id < json.size(); ++id) {
    const auto& entry = json[id];
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() ||
        !(entry[1].is_number() || entry[1].is_null()))
      return make_error(errc::internal, "entry " + std::to_string(id) + " is not [piece, score]");
    t.pieces_.push_back(entry[0].get<std::string>());
    // The reference steps back by the piece's JavaScript length: UTF-16 units.
    decode_utf8(t.pieces_.back(), cps);
    std::int32_t units = 0;
    for (auto cp : cps) units += cp > 0xFFFF ? 2 : 1;
    t.back_step_.push_back(units);
    if (id < static_cast<std::size_t>(reserved)) continue;
    // A null score (":" and a few others) adds as 0 in the reference.
    const double score = entry[1].is_null() ? 0.0 : entry[1].get<double>();
    if (cps.empty()) continue;
    std::int32_t node = 0;
    for (auto cp : cps) {
      const auto [it, inserted] =
          t.edges_.try_emplace(edge_key(node, static_cast<char32_t>(cp)), static_cast<std::int32_t>(t.nodes_.size()));
      if (inserted) t.nodes_.emplace_back();
      node = it->second;
    }
    // A piece listed twice keeps its later id, as in the reference's trie.
    t.nodes_[static_cast<std::size_t>(node)] = Node{static_cast<std::int32_t>(id), score};
    t.max_piece_length_ = std::max(t.max_piece_length_, cps.size());
  }
  return t;
}

std::int32_t UnigramTokenizer::child(std::int32_t node, char32_t c) const {
  const auto it = edges_.find(edge_key(node, c));
  return it == edges_.end() ? -1 : it->second;
}

std::vector<std::int32_t> UnigramTokenizer::encode(std::string_view text) const {
  std::vector<std::int32_t> ids;
  encode(text, ids);
  return ids;
}

void UnigramTokenizer::encode(std::string_view text, std::vector<std::int32_t>& ids) const {
  ids.clear();
  struct Candidate {
    std::int32_t start;
    std::int32_t length;
    std::int32_t id;
    double score;
  };
  thread_local std::vector<std::int32_t> symbols;
  thread_local std::vector<Candidate> found;       // by start ascending, then length ascending
  thread_local std::vector<std::int32_t> by_end;   // CSR: found[] indices grouped by end position
  thread_local std::vector<std::int32_t> offsets;  // by_end[offsets[e] .. offsets[e+1])
  thread_local std::vector<double> best;
  thread_local std::vector<std::int32_t> words;

  nfkc_code_points(text, symbols);
  if (symbols.empty()) return;
  // "▁" in front, every U+0020 a "▁" (only that space: NFKC has already made
  // most other spaces U+0020; tabs and newlines stay, and are unknown).
  for (auto& c : symbols)
    if (c == static_cast<std::int32_t>(kSpace)) c = static_cast<std::int32_t>(kSeparator);
  symbols.insert(symbols.begin(), static_cast<std::int32_t>(kSeparator));
  const auto n = static_cast<std::int32_t>(symbols.size());

  found.clear();
  for (std::int32_t i = 0; i < n; ++i) {
    const auto before = found.size();
    std::int32_t node = 0;
    for (std::int32_t j = i; j < n; ++j) {
      node = child(node, static_cast<char32_t>(symbols[static_cast<std::size_t>(j)]));
      if (node < 0) break;
      const Node& at = nodes_[static_cast<std::size_t>(node)];
      if (at.id >= 0) found.push_back({i, j - i + 1, at.id, at.score});
    }
    if (found.size() == before) found.push_back({i, 1, kUnknownId, 0.0});
  }

  offsets.assign(static_cast<std::size_t>(n) + 2, 0);
  for (const auto& c : found) ++offsets[static_cast<std::size_t>(c.start + c.length) + 1];
  for (std::size_t e = 1; e < offsets.size(); ++e) offsets[e] += offsets[e - 1];
  by_end.resize(found.size());
  {
    thread_local std::vector<std::int32_t> fill;
    fill.assign(offsets.begin(), offsets.end() - 1);
    for (std::size_t k = 0; k < found.size(); ++k) {
      const auto end = static_cast<std::size_t>(found[k].start + found[k].length);
      by_end[static_cast<std::size_t>(fill[end]++)] = static_cast<std::int32_t>(k);
    }
  }

  best.assign(static_cast<std::size_t>(n) + 1, 0.0);
  words.assign(static_cast<std::size_t>(n) + 1, 0);
  for (std::int32_t end = 0; end <= n; ++end) {
    const auto e = static_cast<std::size_t>(end);
    for (auto k = offsets[e]; k < offsets[e + 1]; ++k) {
      const Candidate& c = found[static_cast<std::size_t>(by_end[static_cast<std::size_t>(k)])];
      const double score = c.score + best[static_cast<std::size_t>(end - c.length)];
      if (best[e] == 0 || score >= best[e]) {
        best[e] = score;
        words[e] = c.id;
      }
    }
  }

  // Back from the end, each step the length of the chosen piece (the
  // unknown piece, U+FFFD, has length 1), merging runs of unknowns.
  bool previous_unknown = false;
  for (std::int32_t at = n; at > 0;) {
    const std::int32_t id = words[static_cast<std::size_t>(at)];
    if (!(previous_unknown && id == kUnknownId)) ids.push_back(id);
    previous_unknown = id == kUnknownId;
    at -= std::max<std::int32_t>(1, back_step_[static_cast<std::size_t>(id)]);
  }
  std::reverse(ids.begin(), ids.end());
}

}  // namespace sluice::embed
