// Fuzz target: the semantic cache's verifier (cache::Verifier::check), on
// two prompts (the input cut at its first NUL: stored, then incoming). Invariants:
// a prompt always asks what it asks itself (check(a, a) is same, unless it
// is over Verifier::kMaxBytes and refused unread), the verdict is
// deterministic, and a rejection names its rule. Any UTF-8 or
// not, any length: prompts are client input.
#include "fuzz_support.hpp"
#include "sluice/cache/verifier.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice;
  static const cache::Verifier verifier = cache::Verifier::load();
  const std::string_view input = fuzz::text_of(data, size);
  const std::size_t nul = input.find('\0');
  const std::string_view stored = input.substr(0, nul);
  const std::string_view incoming = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  const cache::Verdict verdict = verifier.check(stored, incoming);
  const cache::Verdict again = verifier.check(stored, incoming);
  FUZZ_CHECK(verdict.same == again.same && verdict.rule == again.rule, "the verdict is not deterministic");
  if (!verdict.same) FUZZ_CHECK(!verdict.rule.empty(), "a rejection without a rule");
  for (std::string_view prompt : {stored, incoming}) {
    const cache::Verdict self = verifier.check(prompt, prompt);
    if (prompt.size() > cache::Verifier::kMaxBytes) FUZZ_CHECK(self.rule == "length", "an over-long prompt was read");
    else FUZZ_CHECK(self.same, std::string(self.rule) + ": " + self.detail);
  }
  return 0;
}
