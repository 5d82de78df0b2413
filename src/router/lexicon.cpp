// The cue tables. Words are matched whole and lower-cased; inflections are
// listed rather than stemmed, so a match is exactly what is written here.
// Pairs are written "first second". Looked up through one open-addressing
// table built once.
#include "lexicon.hpp"

#include <array>
#include <cstddef>
#include <vector>

namespace sluice::router {

namespace {

struct Words {
  Group group;
  bool action;
  std::string_view words;  // separated by spaces; '_' joins the two words of a pair
};

// A word in several lists keeps the first list's group.
constexpr Words kLexicon[] = {
    {Group::proof, true, "prove proves proving prove_that proof proofs derive derives deriving show_that"},
    {Group::proof, false,
     "proved derivation irrational undecidable undecidability induction counterexample rigorous rigorously formally "
     "only_if proof_sketch démontrez démontrer démontre beweisen beweise beweis beweist demuestra demostrar "
     "demostración qed"},
    {Group::proof_term, false, "theorem theorems lemma axiom axioms"},
    {Group::math, true, "compute solve integrate minimise minimize maximise maximize"},
    {Group::math, false,
     "integral integrals eigenvalue eigenvalues eigenvector eigenvectors determinant determinants matrix matrices "
     "probability probabilities expected variance recurrence equation equations lagrange multipliers derivative "
     "derivatives polynomial divisible prime primes combinatorial permutation permutations converge convergence "
     "convergent converges continuous uncountable countable bipartite hamiltonian planar colouring coloring tiling "
     "tile infinitely integer integers rational modulo vertices graph digit asymptotic asymptotically logarithm "
     "calculus pde stochastic bayesian regression gradient backpropagation markov entropy estimator unbiased "
     "closed_form lower_bound upper_bound how_many_ways credible interval sqrt subsequence sequence series "
     "dominoes divergent diverges irrationality cubes squares elasticity"},
    {Group::code_ask, true, "implement implementing debug refactor"},
    {Group::code_ask, false,
     "function functions script class method implementation program api endpoint query queries regex "
     "regular_expression unit_tests tests pytest dockerfile manifest workflow cron compiler parser tokenizer library "
     "module bug bugs compile code snippet one-liner linked_list struct"},
    {Group::code_lang, false,
     "python javascript typescript java rust golang c++ cpp kotlin swift ruby php bash shell sql haskell scala "
     "node.js react vue flask django pandas kubernetes docker html css jsx c11 c++20 go_service postgres redis "
     "kafka spark tla+"},
    {Group::concurrency, false,
     "race races race_condition thread-safe lock-free wait-free deadlock deadlocks atomic atomics linearizable "
     "linearizability contention lost-wakeup interleaving interleavings memory_ordering memory_orderings two-phase "
     "concurrent_map data_race"},
    {Group::concurrency_term, false,
     "concurrent concurrency concurrently threads thread multithreaded multi-threaded mutex mutexes goroutine "
     "goroutines synchronization parallel async await"},
    {Group::design, true, "design architect"},
    {Group::design, false,
     "architecture scalable scalability distributed consensus replication replicated partition partitioned "
     "partitioning sharded sharding shard fault-tolerant tolerant failover migration zero-downtime downtime "
     "trade-off trade-offs tradeoff tradeoffs trade_offs latency throughput p99 exactly-once idempotency idempotent "
     "rollback multi-region geo-distributed protocol guarantees invariant invariants scheduler consistency "
     "back-pressure resumable cluster byzantine failure_modes globally"},
    {Group::analysis, true,
     "analyse analyze diagnose investigate optimise optimize evaluate critique predict generalize generalise "
     "formulate characterise characterize quantify justify threat-model model_the"},
    {Group::analysis, false,
     "analysis analyses analysing analyzing diagnosis root-cause root_cause causal hypothesis hypotheses "
     "investigation systematic optimal optimality optimization optimisation complexity correctness incentives "
     "assumptions threat attack attacks vulnerability vulnerabilities security mitigation mitigations adversarial "
     "sandbox isolation escape sensitivity generalization generalized edge_cases five_whys counterexamples "
     "specification flaw fails"},
    {Group::explain, true,
     "explain describe compare summarize summarise draft plan outline recommend create write rewrite improve "
     "translate_this convert_this explique expliquez explica erkläre erklären"},
    {Group::explain, false,
     "explanation explains comparison difference differences versus vs pros cons advantages disadvantages why "
     "summary email letter itinerary example examples tutorial guide checklist story post review feedback "
     "paragraph agenda presentation workout steps_to how_does how_do why_does ventajas desventajas diferencia "
     "différence unterschied vorteile nachteile"},
    {Group::simple, false,
     "what's whats who when where which translate synonym synonyms antonym antonyms opposite plural spell "
     "spelling typo typos grammar capitalize capitalise uppercase lowercase sort alphabetically rename reformat "
     "pretty-print extract classify define definition count shorten rephrase reword polite tweet haiku limerick "
     "joke slogan tagline headline hi hello hey yo thanks thank bye goodbye morning night cheers okay cool name "
     "what_is what_are what_does what_time how_many how_long you_say correct_the fix_the make_it "
     "give_me yes_or true_or odd_one alt_text just_the"},
    {Group::brief, false,
     "brief briefly concise concisely tl;dr short shorter one-line one-word one_sentence one_word one_line "
     "in_a_word answer_with only_the just_the two-sentence"},
    {Group::long_output, false,
     "detailed comprehensive thorough thoroughly in-depth exhaustive production-quality production-ready "
     "complete in_depth full_implementation"},
    {Group::steps, false, "then finally first afterwards step-by-step step_by by_step and_then each every"},
    {Group::constraint, false,
     "must without ensure ensuring guarantee guaranteed within never while tolerate tolerates tolerating bounded "
     "bound preserving preserve preserves exactly requirement requirements constraint constraints limiting "
     "at_most at_least no_more so_that less_than"},
    {Group::none, true,
     "find propose list identify specify choose decide show give redraft estimate state discuss verify "
     "construct build present rate enumerate detect prevent fix size handle test reconcile sign compare "
     "determine calculate"},
    {Group::foreign, false,
     "le la les des une est pour avec dans el los las una para con por que del der die das und ist nicht eine "
     "mit für zu"},
};

// Open addressing over 2^12 slots: far more than the lexicon's words, so
// probes are short.
constexpr std::size_t kSlots = 1u << 12;

struct Table {
  std::array<std::uint64_t, kSlots> keys{};
  std::array<Entry, kSlots> entries{};

  void insert(std::uint64_t key, Entry entry) {
    for (std::size_t i = key & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      if (keys[i] == key) {  // first list wins; action and opens flags are kept from any
        entries[i].action = entries[i].action || entry.action;
        entries[i].opens = entries[i].opens || entry.opens;
        if (entries[i].group == Group::none) entries[i].group = entry.group;
        return;
      }
      if (keys[i] == 0) {
        keys[i] = key;
        entries[i] = entry;
        return;
      }
    }
  }
};

// "a_b_c" is hashed as the pair chain of its words.
std::uint64_t phrase_hash(std::string_view phrase) {
  std::uint64_t h = 0;
  while (!phrase.empty()) {
    const std::size_t cut = phrase.find('_');
    const std::uint64_t w = word_hash(phrase.substr(0, cut));
    h = h == 0 ? w : pair_hash(h, w);
    phrase = cut == std::string_view::npos ? std::string_view{} : phrase.substr(cut + 1);
  }
  return h;
}

Table build() {
  Table table;
  for (const Words& list : kLexicon) {
    std::string_view words = list.words;
    while (!words.empty()) {
      const std::size_t cut = words.find(' ');
      const std::string_view word = words.substr(0, cut);
      words = cut == std::string_view::npos ? std::string_view{} : words.substr(cut + 1);
      if (word.empty()) continue;
      table.insert(phrase_hash(word), {list.group, list.action, false});
      // Each proper prefix of a phrase opens it, so a scan looks a pair or a
      // triple up only after a word or pair that can begin one.
      for (std::size_t cut = word.find('_'); cut != std::string_view::npos; cut = word.find('_', cut + 1))
        table.insert(phrase_hash(word.substr(0, cut)), {Group::none, false, true});
    }
  }
  return table;
}

const Table& table() {
  static const Table t = build();
  return t;
}

}  // namespace

std::uint64_t word_hash(std::string_view word) noexcept {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : word) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h | 1;  // never 0: the table's empty slot
}

Entry lookup(std::uint64_t hash) noexcept {
  const Table& t = table();
  for (std::size_t i = hash & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
    if (t.keys[i] == hash) return t.entries[i];
    if (t.keys[i] == 0) return {};
  }
}

}  // namespace sluice::router
