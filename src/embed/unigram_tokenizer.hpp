// The SentencePiece-style unigram tokenizer of Universal Sentence Encoder
// Lite, ported from its reference JavaScript (@energetic-ai/embeddings 0.2.0,
// lib/tokenizer.ts) so that both give the same ids for the same text,
// quirks included: NFKC, no lower-casing, U+0020 -> U+2581 with one U+2581
// in front, Viterbi over code points where a position with no piece becomes
// the unknown id 0 (runs of unknowns merged into one), and ties going to the
// later candidate.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sluice/core/error.hpp"

namespace sluice::embed {

class UnigramTokenizer {
 public:
  // Reads vocab.json: an array of [piece, log-probability] pairs whose
  // index is the id; the first `reserved` are not matched (id 0 is the
  // unknown piece). The error names the file and what is wrong with it.
  static Result<UnigramTokenizer> load(const std::filesystem::path& vocab_json, int reserved = 6);
  static Result<UnigramTokenizer> parse(std::string_view vocab_json_text, int reserved = 6);

  // Appends the ids of `text` to `ids` (cleared first). Invalid UTF-8 bytes
  // count as U+FFFD, as a UTF-8 decoder would give the JavaScript. Linear in
  // the text: each position tries at most max_piece_length() pieces.
  void encode(std::string_view text, std::vector<std::int32_t>& ids) const;
  std::vector<std::int32_t> encode(std::string_view text) const;

  const std::string& piece(std::int32_t id) const { return pieces_.at(static_cast<std::size_t>(id)); }
  std::size_t vocabulary_size() const { return pieces_.size(); }
  std::size_t max_piece_length() const { return max_piece_length_; }

 private:
  struct Node {
    std::int32_t id = -1;  // the piece ending here, or -1
    double score = 0;
  };
  std::int32_t child(std::int32_t node, char32_t c) const;

  std::vector<std::string> pieces_;
  std::vector<std::int32_t> back_step_;  // per id: its piece's length in UTF-16 units
  std::vector<Node> nodes_;  // the trie over code points; node 0 is the root
  std::unordered_map<std::uint64_t, std::int32_t> edges_;  // (node << 32 | code point) -> child
  std::size_t max_piece_length_ = 1;
};

// NFKC of UTF-8 text as code points (invalid bytes become U+FFFD). Exposed
// for tests.
void nfkc_code_points(std::string_view text, std::vector<std::int32_t>& out);

}  // namespace sluice::embed
