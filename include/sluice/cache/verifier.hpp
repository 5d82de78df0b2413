// Verifier: decides whether a semantic candidate's prompt asks the same
// question as the incoming one. Embeddings only find candidates: on hard
// negatives (a negation, a changed number, a swapped entity or direction)
// they score higher than on paraphrases, so every candidate passes here
// before it is served. Rules run cheapest first; any one rejects.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace sluice::cache {

struct Verdict {
  bool same = true;
  std::string_view rule;  // the rule that rejected ("" when same): a stable name, e.g. "negation"
  std::string detail;     // what it saw, for the debug log (never logged above debug: prompts)
};

class Verifier {
 public:
  // The antonym pairs come from WordNet's data files in `wordnet_dir`
  // (Debian's wordnet-base); without them a built-in list serves and
  // `lexicon_warning()` says why.
  static Verifier load(const std::filesystem::path& wordnet_dir = "/usr/share/wordnet");

  Verdict check(std::string_view stored, std::string_view incoming) const;
  const std::string& lexicon_warning() const noexcept;
};

}  // namespace sluice::cache
