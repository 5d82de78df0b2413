// The complexity score, table-driven: requests and the tier the default
// thresholds give them, including the adversarial shapes (long but easy,
// short but hard, code-looking but trivial, one pasted text with an easy and
// a hard task, a casual opener before a proof, a deep conversation ending in
// thanks); the cues that name the reason; the bounds on work.
#include "sluice/router/complexity.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sluice/core/config.hpp"

namespace sluice::router {
namespace {

enum Tier { low, medium, high };

Tier tier_of(double score) {
  if (score >= kRouterHighScore) return high;
  if (score >= kRouterMediumScore) return medium;
  return low;
}

LlmRequest chat(std::vector<Message> messages) {
  LlmRequest req;
  req.messages = std::move(messages);
  return req;
}
LlmRequest ask(std::string text) { return chat({{"user", std::move(text)}}); }

const std::string kPastedCode =
    "import threading\n\nclass Counter:\n    def __init__(self):\n        self.n = 0\n\n"
    "    def add(self):\n        value = self.n\n        self.n = value + 1\n\n"
    "counter = Counter()\nthreads = [threading.Thread(target=counter.add) for _ in range(100)]\n"
    "for t in threads:\n    t.start()\nfor t in threads:\n    t.join()\nprint(counter.n)\n";

std::string pasted_article() {
  std::string text;
  for (int i = 0; i < 6; ++i)
    text += "The council met again on Tuesday to discuss the harbour plan. Residents spoke about traffic, rents and "
            "the park that the developers promised, and the planning department said its review would take a month.\n\n";
  return text;
}

struct Case {
  const char* name;
  LlmRequest request;
  Tier expected;
};

class Tiers : public ::testing::TestWithParam<Case> {};

TEST_P(Tiers, ScoreLandsInTheTier) {
  const Case& c = GetParam();
  const Assessment a = assess(c.request);
  EXPECT_EQ(tier_of(a.score), c.expected) << c.name << ": score " << a.score << ", reason "
                                          << reason(a, a.score < kRouterMediumScore);
}

INSTANTIATE_TEST_SUITE_P(
    Plain, Tiers,
    ::testing::Values(Case{"fact", ask("What is the capital of Australia?"), low},
                      Case{"greeting", ask("hi there!"), low},
                      Case{"typo", ask("Fix the typo in this sentence: 'Teh meeting is at noon.'"), low},
                      Case{"explain", ask("Explain how DNS resolution works when I type a URL into my browser."), medium},
                      Case{"function", ask("Write a Python function that checks whether a string is a palindrome."), medium},
                      Case{"compare", ask("What are the pros and cons of microservices compared with a monolith?"), medium},
                      Case{"proof", ask("Prove that every tournament has a Hamiltonian path."), high},
                      Case{"design",
                           ask("Design a rate limiter for a multi-region API gateway that enforces a global limit with "
                               "at most 5% overshoot, tolerates a partitioned region, and explain the failure modes."),
                           high}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Adversarial, Tiers,
    ::testing::Values(
        Case{"long_but_easy", ask(pasted_article() + "Give this article a headline of at most eight words."), low},
        Case{"short_but_hard", ask("Prove that sqrt(2) + sqrt(3) is irrational."), high},
        Case{"code_looking_but_trivial", ask(kPastedCode + "\nAdd a one-line docstring to the Counter class."), low},
        Case{"same_code_hard_task",
             ask(kPastedCode + "\nThis runs on 100 threads and prints less than 100. Explain the race condition, "
                               "prove your fix is correct and make it lock-free."),
             high},
        Case{"same_article_hard_task",
             ask(pasted_article() + "Model the incentives of the council and the developers, predict how each will "
                                    "act, and design an agreement that avoids the failure, stating your assumptions."),
             high},
        Case{"casual_opener_then_proof",
             chat({{"user", "hey! how's it going?"},
                   {"assistant", "Good, thanks! How can I help?"},
                   {"user", "I need a rigorous proof that the harmonic series diverges."}}),
             high},
        Case{"deep_conversation_ending_in_thanks",
             chat({{"user", "Prove that the sum of two even numbers is even."},
                   {"assistant", "Let a = 2m and b = 2n; a + b = 2(m + n)."},
                   {"user", "Now generalise to any number of even numbers."},
                   {"assistant", "By induction on the count..."},
                   {"user", "Great, thank you!"}}),
             low},
        Case{"foreign_proof", ask("Démontrez que la somme des n premiers cubes est le carré de la somme des n premiers entiers."),
             high}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Complexity, TheReasonNamesTheStrongestCues) {
  Assessment a = assess(ask("Prove that there are infinitely many primes of the form 4k + 3."));
  EXPECT_EQ(reason(a, false), "proof+math");
  a = assess(ask("hi there!"));
  EXPECT_EQ(reason(a, true), "simple+brief");
  EXPECT_EQ(reason(Assessment{}, false), "plain");
}

TEST(Complexity, PastedMaterialIsNotReadAsTheTask) {
  const Assessment a = assess(ask(kPastedCode + "\nWhat does this print?"));
  EXPECT_LT(a.task_bytes, 40u);
  EXPECT_GT(a.material_bytes, 250u);
  EXPECT_TRUE(a.cues & kCuePasted || a.material_bytes <= 500);
  EXPECT_FALSE(a.cues & kCueConcurrency) << "the pasted code's threads are material, not the task";
}

TEST(Complexity, RequestedOutputSizeAndToolsRaiseTheScore) {
  const LlmRequest plain = ask("Write about the history of the printing press.");
  LlmRequest long_tokens = plain;
  long_tokens.max_tokens = 8000;
  LlmRequest with_tools = plain;
  with_tools.tools = 6;
  const double base = assess(plain).score;
  EXPECT_GT(assess(long_tokens).score, base);
  EXPECT_TRUE(assess(long_tokens).cues & kCueLongOutput);
  EXPECT_GT(assess(with_tools).score, base);
  EXPECT_TRUE(assess(with_tools).cues & kCueTools);
  EXPECT_GT(assess(ask("Write a 2,000-word essay about the history of the printing press.")).score, base);
  EXPECT_LT(assess(ask("In one sentence, write about the history of the printing press.")).score, base);
}

TEST(Complexity, TheSystemPromptIsNotTheTask) {
  const LlmRequest req = chat({{"system", "You are a rigorous mathematician who proves theorems formally."},
                               {"user", "What's the capital of France?"}});
  EXPECT_EQ(tier_of(assess(req).score), low);
}

TEST(Complexity, CompletionsPromptsAreScoredToo) {
  LlmRequest req;
  req.endpoint = Endpoint::completions;
  req.inputs = {"Prove that the halting problem is undecidable."};
  EXPECT_EQ(tier_of(assess(req).score), high);
}

TEST(Complexity, HugeAndHostileInputsAreBounded) {
  // Work is bounded: a 4 MiB turn of one word, of punctuation, of
  // unbalanced fences, of one endless line; all score without trouble.
  for (const std::string& text : {std::string(4u << 20, 'a'), std::string(4u << 20, '`'), std::string(4u << 20, '\n'),
                                  std::string(1u << 20, '-') + "prove", std::string(200000, '9')}) {
    const Assessment a = assess(ask(text));
    EXPECT_GE(a.score, 0.0);
    EXPECT_LE(a.score, 1.0);
    EXPECT_LE(a.task_bytes, 8u * 1024);
  }
  EXPECT_GE(assess(LlmRequest{}).score, 0.0) << "no messages at all";
}

}  // namespace
}  // namespace sluice::router
