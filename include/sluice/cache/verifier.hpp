// Verifier: decides whether a semantic candidate's prompt asks the same
// question as the incoming one. Embeddings only find candidates: on hard
// negatives (a negation, a changed number, a swapped entity or direction)
// they score higher than on paraphrases, so every candidate passes here
// before it is served. Rules run cheapest first; any one rejects.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::cache {

class Lexicon;

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
  // Reading WordNet takes about 0.1 s of CPU: load once at start and share
  // the Verifier (copies share the lexicon; check() is thread-safe).
  static Verifier load(const std::filesystem::path& wordnet_dir = "/usr/share/wordnet");

  // Whether `incoming` asks what `stored` asked. A few microseconds for a
  // short prompt; once warm on a thread it allocates only to describe a
  // rejection. Its word alignment grows faster than the prompts, so a prompt
  // over kMaxBytes is refused unread (rule "length"): the cache compares
  // prompts of at most semantic.max_prompt_chars anyway, and a miss is the
  // safe answer.
  static constexpr std::size_t kMaxBytes = 32 * 1024;
  Verdict check(std::string_view stored, std::string_view incoming) const;
  // Empty when WordNet was read; else why not and what serves instead.
  const std::string& lexicon_warning() const noexcept;
  // How long loading WordNet took, and what it kept: for the start log.
  double load_millis() const noexcept;
  std::size_t lemma_count() const noexcept;
  std::size_t antonym_count() const noexcept;

 private:
  explicit Verifier(std::shared_ptr<const Lexicon> lexicon) : lexicon_(std::move(lexicon)) {}
  std::shared_ptr<const Lexicon> lexicon_;
};

}  // namespace sluice::cache
