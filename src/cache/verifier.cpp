// The verifier (cache/verifier.hpp): parses both prompts once, then runs the
// rules of verifier_rules.hpp cheapest first; the first that objects names
// the verdict. Every rule is documented, with the pair that motivates it, in
// verifier_rules.hpp and docs/architecture.md ("The verifier").
#include "sluice/cache/verifier.hpp"

#include "verifier_lexicon.hpp"
#include "verifier_rules.hpp"
#include "verifier_text.hpp"

namespace sluice::cache {

Verifier Verifier::load(const std::filesystem::path& wordnet_dir) {
  return Verifier(std::make_shared<const Lexicon>(Lexicon::load(wordnet_dir)));
}

Verdict Verifier::check(std::string_view stored, std::string_view incoming) const {
  if (stored.size() > kMaxBytes || incoming.size() > kMaxBytes)
    return {false, "length", "a prompt over " + std::to_string(kMaxBytes) + " bytes is not compared"};
  // One pair of parsed prompts per thread, reused: parsing allocates only
  // when a prompt is longer than any this thread has seen.
  thread_local Prompt a, b;
  a.parse(stored, *lexicon_);
  b.parse(incoming, *lexicon_);
  Verdict verdict;
  auto reject = [&](std::string_view rule) {
    verdict.same = false;
    verdict.rule = rule;
    return verdict;
  };
  std::string& d = verdict.detail;
  if (rules::language(a, b, d)) return reject("language");
  if (rules::numbers(a, b, d)) return reject("numbers");
  if (rules::negation(a, b, d)) return reject("negation");
  if (rules::question(a, b, d)) return reject("question");
  if (rules::qualifiers(a, b, d)) return reject("qualifiers");
  if (rules::programming_languages(a, b, d)) return reject("programming_language");
  if (rules::entities(a, b, d)) return reject("entities");
  if (rules::antonyms(a, b, *lexicon_, d)) return reject("antonyms");
  if (const std::string_view rule = rules::align(a, b, *lexicon_, d); !rule.empty()) return reject(rule);
  return verdict;
}

const std::string& Verifier::lexicon_warning() const noexcept { return lexicon_->warning(); }
double Verifier::load_millis() const noexcept { return lexicon_->load_millis(); }
std::size_t Verifier::lemma_count() const noexcept { return lexicon_->lemma_count(); }
std::size_t Verifier::antonym_count() const noexcept { return lexicon_->antonym_count(); }

}  // namespace sluice::cache
